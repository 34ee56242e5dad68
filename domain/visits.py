"""Remote visits: scheduled in the participant's local time, flagged when out of window.

When a visit may start follows from its definition: a visit planned after enrolment
(`day` > 0) waits for the enrolment, no visit of day 0 or later comes before the enrolment
day, no visit at all before the participant was registered, and one in the past (recorded
afterwards) needs a reason.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum, StrEnum
from typing import ClassVar, Final
from zoneinfo import ZoneInfo

from domain.design import ContactMode, VisitDefinition
from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import ParticipantId, SiteId, StudyId, VisitDefinitionId, VisitId, new_id
from domain.participants import Participant


class VisitStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class Unchanged(Enum):
    """An update's "leave this as it is", distinct from None ("clear it")."""

    UNCHANGED = "UNCHANGED"


UNCHANGED: Final = Unchanged.UNCHANGED


class VisitOutcome(StrEnum):
    DONE = "DONE"
    PARTIALLY_DONE = "PARTIALLY_DONE"
    NOT_DONE = "NOT_DONE"
    PARTICIPANT_UNREACHABLE = "PARTICIPANT_UNREACHABLE"


def wall_to_utc(local: datetime, timezone: str) -> datetime:
    """A local wall time in a zone, as UTC. A time skipped by DST moves forward by the gap;
    a repeated one means its first occurrence."""
    zone = ZoneInfo(timezone)
    aware = local.replace(tzinfo=zone, fold=0)
    there_and_back = aware.astimezone(UTC).astimezone(zone)
    if there_and_back.replace(tzinfo=None) != local:  # in a gap: use the later offset
        aware = local.replace(tzinfo=zone, fold=1)
    return aware.astimezone(UTC)


@dataclass(frozen=True)
class Visit:
    ENTITY: ClassVar[str] = "Visit"
    PERSONAL: ClassVar[frozenset[str]] = frozenset({"notes"})
    REASON_REQUIRED: ClassVar[bool] = False

    id: VisitId
    participant_id: ParticipantId
    study_id: StudyId
    site_id: SiteId
    definition_id: VisitDefinitionId
    mode: ContactMode
    local_start: datetime  # the participant's wall time, without an offset
    timezone: str
    starts_at: datetime  # the same moment in UTC
    duration_minutes: int
    assignee_id: uuid.UUID | None
    status: VisitStatus
    out_of_window: bool
    outcome: VisitOutcome | None = None
    notes: str | None = None
    completed_at: datetime | None = None
    version: int = 1

    @classmethod
    def schedule(
        cls,
        *,
        participant: Participant,
        definition: VisitDefinition,
        mode: ContactMode,
        local_start: datetime,
        duration_minutes: int,
        assignee_id: uuid.UUID | None,
        now: datetime,
        reason: str | None = None,
    ) -> Visit:
        if mode not in definition.modes:
            raise Invalid("mode", "This visit is not planned with that contact mode.")
        if not 5 <= duration_minutes <= 600:
            raise Invalid("duration_minutes", "Visits last 5-600 minutes.")
        local = _minute(local_start)
        starts_at = wall_to_utc(local, participant.timezone)
        check_start(definition, participant, local, starts_at, now=now, reason=reason)
        return cls(
            id=VisitId(new_id()),
            participant_id=participant.id,
            study_id=participant.study_id,
            site_id=participant.site_id,
            definition_id=definition.id,
            mode=mode,
            local_start=local,
            timezone=participant.timezone,
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            assignee_id=assignee_id,
            status=VisitStatus.SCHEDULED,
            out_of_window=_outside(definition, participant.enrolled_on, local.date()),
        )

    def rescheduled(
        self,
        *,
        definition: VisitDefinition,
        participant: Participant,
        local_start: datetime,
        assignee_id: uuid.UUID | Unchanged | None,
        now: datetime,
        reason: str | None,
    ) -> Visit:
        """Moved (and perhaps reassigned); UNCHANGED keeps the assignee, None removes it."""
        self._still_planned()
        local = _minute(local_start)
        starts_at = wall_to_utc(local, self.timezone)
        check_start(definition, participant, local, starts_at, now=now, reason=reason)
        return dataclasses.replace(
            self,
            local_start=local,
            starts_at=starts_at,
            assignee_id=self.assignee_id if assignee_id is UNCHANGED else assignee_id,
            out_of_window=_outside(definition, participant.enrolled_on, local.date()),
            version=self.version + 1,
        )

    def cancelled(self) -> Visit:
        self._still_planned()
        return dataclasses.replace(self, status=VisitStatus.CANCELLED, version=self.version + 1)

    def completed(self, outcome: VisitOutcome, notes: str | None, now: datetime) -> Visit:
        self._still_planned()
        text = notes.strip() if notes and notes.strip() else None
        if text is not None and len(text) > 5000:
            raise Invalid("notes", "Notes are at most 5000 characters.")
        return dataclasses.replace(
            self,
            status=VisitStatus.COMPLETED,
            outcome=outcome,
            notes=text,
            completed_at=now,
            version=self.version + 1,
        )

    def _still_planned(self) -> None:
        if self.status is not VisitStatus.SCHEDULED:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, f"The visit is {self.status.value.lower()} already."
            )

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


def check_start(
    definition: VisitDefinition,
    participant: Participant,
    local: datetime,
    starts_at: datetime,
    *,
    now: datetime,
    reason: str | None,
) -> None:
    """Refuse a start the participant's timeline rules out; a past start needs a reason."""
    if starts_at < participant.registered_at:
        raise DomainError(
            ErrorCode.VISIT_BEFORE_REGISTRATION,
            "The participant was registered after that time.",
            field="local_start",
        )
    enrolled_on = participant.enrolled_on
    if enrolled_on is None and definition.day > 0:
        raise DomainError(
            ErrorCode.PARTICIPANT_NOT_ENROLLED,
            f"This visit is planned {definition.day} days after enrolment: enrol first.",
            field="visit_definition_id",
        )
    if enrolled_on is not None and definition.day >= 0 and local.date() < enrolled_on:
        raise DomainError(
            ErrorCode.VISIT_BEFORE_ENROLMENT,
            "This visit belongs after enrolment; the participant was enrolled later.",
            field="local_start",
        )
    if starts_at < now and (reason is None or not reason.strip()):
        raise DomainError(
            ErrorCode.REASON_REQUIRED, "A visit in the past needs a reason.", field="reason"
        )


def _minute(local_start: datetime) -> datetime:
    return local_start.replace(tzinfo=None, second=0, microsecond=0)


def _outside(definition: VisitDefinition, enrolled_on: date | None, day: date) -> bool:
    if enrolled_on is None:  # not enrolled yet (e.g. a screening visit): no window to check
        return False
    first, last = definition.window(enrolled_on)
    return not first <= day <= last
