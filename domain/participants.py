"""Participants: pseudonymous subjects of a study, their lifecycle and its rules."""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar
from zoneinfo import ZoneInfo

from domain import values
from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import ParticipantId, SiteId, StudyId, new_id


class ParticipantStatus(StrEnum):
    SCREENED = "SCREENED"
    CONSENTED = "CONSENTED"
    ENROLLED = "ENROLLED"
    COMPLETED = "COMPLETED"
    WITHDRAWN = "WITHDRAWN"


_NEXT: dict[ParticipantStatus, frozenset[ParticipantStatus]] = {
    ParticipantStatus.SCREENED: frozenset({ParticipantStatus.CONSENTED}),
    ParticipantStatus.CONSENTED: frozenset({ParticipantStatus.ENROLLED}),
    ParticipantStatus.ENROLLED: frozenset({ParticipantStatus.COMPLETED}),
    ParticipantStatus.COMPLETED: frozenset(),
    ParticipantStatus.WITHDRAWN: frozenset(),
}
_ACTIVE = frozenset(
    {ParticipantStatus.SCREENED, ParticipantStatus.CONSENTED, ParticipantStatus.ENROLLED}
)
ACTIVE_STATUSES = _ACTIVE  # still taking part: their study cannot close yet

# Crockford's base32 without I, L, O, U: easy to read aloud and to type.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_subject_id() -> str:
    """A random subject id such as 'K7Q2-9XHD': 40 random bits, never derived from personal data."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


@dataclass(frozen=True)
class Participant:
    ENTITY: ClassVar[str] = "Participant"
    # The screening number identifies the person at their site: sealed with their key.
    PERSONAL: ClassVar[frozenset[str]] = frozenset({"screening_number"})
    REASON_REQUIRED: ClassVar[bool] = True

    id: ParticipantId
    study_id: StudyId
    site_id: SiteId
    subject_id: str
    screening_number: str | None  # None once erased
    status: ParticipantStatus
    timezone: str
    registered_at: datetime
    status_changed_at: datetime
    erased_at: datetime | None = None  # personal data crypto-shredded; pseudonymous data kept
    arm_id: uuid.UUID | None = None
    enrolled_on: date | None = None  # day 0 of the schedule, in the participant's time zone
    version: int = 1

    @classmethod
    def register(
        cls,
        *,
        study_id: StudyId,
        site_id: SiteId,
        screening_number: str,
        timezone: str,
        now: datetime,
    ) -> Participant:
        return cls(
            id=ParticipantId(new_id()),
            study_id=study_id,
            site_id=site_id,
            subject_id=new_subject_id(),
            screening_number=_screening_number(screening_number),
            status=ParticipantStatus.SCREENED,
            timezone=values.timezone(timezone, "timezone"),
            registered_at=now,
            status_changed_at=now,
        )

    @property
    def is_active(self) -> bool:
        return self.status in _ACTIVE

    def with_new_subject_id(self) -> Participant:
        return dataclasses.replace(self, subject_id=new_subject_id())

    def enrolled(self, arm_id: uuid.UUID, now: datetime) -> Participant:
        """Consented participants join an arm; day 0 is today in their time zone."""
        moved = self.move_to(ParticipantStatus.ENROLLED, now)
        today = now.astimezone(ZoneInfo(self.timezone)).date()
        return dataclasses.replace(moved, arm_id=arm_id, enrolled_on=today)

    def in_zone(self, timezone: str) -> Participant:
        return dataclasses.replace(
            self, timezone=values.timezone(timezone, "timezone"), version=self.version + 1
        )

    def erased(self, now: datetime) -> Participant:
        return dataclasses.replace(
            self, screening_number=None, erased_at=now, version=self.version + 1
        )

    def move_to(self, status: ParticipantStatus, now: datetime) -> Participant:
        """Advance the lifecycle; withdrawal is possible from every active state."""
        allowed = _NEXT[self.status] | ({ParticipantStatus.WITHDRAWN} if self.is_active else set())
        if status not in allowed:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                f"A participant cannot go from {self.status.value} to {status.value}.",
                field="status",
            )
        return dataclasses.replace(
            self, status=status, status_changed_at=now, version=self.version + 1
        )


def _screening_number(value: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > 40 or not cleaned.isprintable():
        raise Invalid("screening_number", "Use 1-40 printable characters.")
    return cleaned
