"""Protocol deviations: recorded by site staff, or raised from the data as it is written (a
visit done out of its window, a visit whose assessments were not done, data collected under a
consent version no longer current), with a category, a severity and a resolution."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

from domain.adverse_events import partial_date
from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import ParticipantId, SiteId, StudyId, new_id
from domain.reason_codes import ReasonCode
from domain.visits import Visit, VisitOutcome, VisitStatus


class DeviationCategory(StrEnum):
    VISIT_WINDOW = "VISIT_WINDOW"
    MISSED_ASSESSMENT = "MISSED_ASSESSMENT"
    CONSENT = "CONSENT"
    ELIGIBILITY = "ELIGIBILITY"
    STUDY_PROCEDURE = "STUDY_PROCEDURE"
    INVESTIGATIONAL_PRODUCT = "INVESTIGATIONAL_PRODUCT"
    OTHER = "OTHER"


class DeviationSeverity(StrEnum):
    MINOR = "MINOR"
    MAJOR = "MAJOR"
    CRITICAL = "CRITICAL"


class DeviationSource(StrEnum):
    STAFF = "STAFF"  # recorded by site staff
    AUTOMATIC = "AUTOMATIC"  # raised from the data when it was written


class DeviationStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


def _text(value: str | None, field: str, limit: int, message: str) -> str:
    if value is None or not value.strip():
        raise Invalid(field, message)
    text = value.strip()
    if len(text) > limit or "\x00" in text:
        raise Invalid(field, f"Write at most {limit} characters.")
    return text


@dataclass(frozen=True)
class Trigger:
    """The record whose writing raised an automatic deviation."""

    record_type: str
    record_id: uuid.UUID


@dataclass(frozen=True)
class ProtocolDeviation:
    ENTITY: ClassVar[str] = "ProtocolDeviation"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False  # reclassifying needs a reason code

    id: uuid.UUID
    study_id: StudyId
    site_id: SiteId
    participant_id: ParticipantId
    category: DeviationCategory
    severity: DeviationSeverity
    term: str  # DVTERM: what deviated, in words that are not about the participant
    occurred_on: str | None  # partial ISO 8601 date
    source: DeviationSource
    trigger: Trigger | None
    status: DeviationStatus
    detected_at: datetime
    detected_by: uuid.UUID | None = None  # staff; None when raised automatically
    resolution: str | None = None
    resolved_at: datetime | None = None
    resolved_by: uuid.UUID | None = None
    reason_code: ReasonCode | None = None  # of the latest reclassification
    version: int = 1

    @classmethod
    def recorded(
        cls,
        *,
        study_id: StudyId,
        site_id: SiteId,
        participant_id: ParticipantId,
        category: DeviationCategory,
        severity: DeviationSeverity,
        term: str,
        occurred_on: str | None,
        by: uuid.UUID,
        now: datetime,
    ) -> ProtocolDeviation:
        return cls(
            id=new_id(),
            study_id=study_id,
            site_id=site_id,
            participant_id=participant_id,
            category=category,
            severity=severity,
            term=_text(term, "term", 200, "Say what deviated from the protocol."),
            occurred_on=partial_date(occurred_on, "occurred_on"),
            source=DeviationSource.STAFF,
            trigger=None,
            status=DeviationStatus.OPEN,
            detected_at=now,
            detected_by=by,
        )

    def resolved(self, resolution: str, by: uuid.UUID, now: datetime) -> ProtocolDeviation:
        if self.status is DeviationStatus.RESOLVED:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "This deviation is resolved already.")
        return dataclasses.replace(
            self,
            status=DeviationStatus.RESOLVED,
            resolution=_text(resolution, "resolution", 1000, "Say how it was resolved."),
            resolved_at=now,
            resolved_by=by,
            version=self.version + 1,
        )

    def reclassified(
        self, category: DeviationCategory, severity: DeviationSeverity, code: ReasonCode
    ) -> ProtocolDeviation:
        """A new category or severity after review, with a reason code."""
        return dataclasses.replace(
            self, category=category, severity=severity, reason_code=code, version=self.version + 1
        )


def _raised(
    *,
    study_id: StudyId,
    site_id: SiteId,
    participant_id: ParticipantId,
    category: DeviationCategory,
    severity: DeviationSeverity,
    term: str,
    occurred_on: str | None,
    trigger: Trigger,
    now: datetime,
) -> ProtocolDeviation:
    return ProtocolDeviation(
        id=new_id(),
        study_id=study_id,
        site_id=site_id,
        participant_id=participant_id,
        category=category,
        severity=severity,
        term=term,
        occurred_on=occurred_on,
        source=DeviationSource.AUTOMATIC,
        trigger=trigger,
        status=DeviationStatus.OPEN,
        detected_at=now,
    )


_NOT_DONE = {
    VisitOutcome.NOT_DONE: "Visit assessments not done",
    VisitOutcome.PARTIALLY_DONE: "Visit assessments partially done",
    VisitOutcome.PARTICIPANT_UNREACHABLE: "Visit assessments not done: participant unreachable",
}


def from_visit(before: Visit, after: Visit, now: datetime) -> list[ProtocolDeviation]:
    """What a visit being completed raises: out of its window, assessments not done."""
    if after.status is not VisitStatus.COMPLETED or before.status is VisitStatus.COMPLETED:
        return []
    on = after.local_start.date().isoformat()
    trigger = Trigger(Visit.ENTITY, after.id)
    common = {
        "study_id": after.study_id,
        "site_id": after.site_id,
        "participant_id": after.participant_id,
        "occurred_on": on,
        "trigger": trigger,
        "now": now,
    }
    found = []
    if after.out_of_window:
        found.append(
            _raised(
                category=DeviationCategory.VISIT_WINDOW,
                severity=DeviationSeverity.MINOR,
                term="Visit done outside its protocol window",
                **common,  # type: ignore[arg-type]
            )
        )
    if after.outcome in _NOT_DONE:
        found.append(
            _raised(
                category=DeviationCategory.MISSED_ASSESSMENT,
                severity=DeviationSeverity.MAJOR,
                term=_NOT_DONE[after.outcome],
                **common,  # type: ignore[arg-type]
            )
        )
    return found


def consent_not_current(
    *,
    study_id: StudyId,
    site_id: SiteId,
    participant_id: ParticipantId,
    trigger: Trigger,
    collected_on: str,
    now: datetime,
) -> ProtocolDeviation:
    """Data collected while the participant's consent was for a version since replaced."""
    return _raised(
        study_id=study_id,
        site_id=site_id,
        participant_id=participant_id,
        category=DeviationCategory.CONSENT,
        severity=DeviationSeverity.MAJOR,
        term="Data collected under a consent version that was no longer current",
        occurred_on=collected_on,
        trigger=trigger,
        now=now,
    )


class DeviationRepository(Protocol):
    async def add(self, deviation: ProtocolDeviation) -> None: ...

    async def raise_once(self, deviation: ProtocolDeviation) -> bool:
        """Store an automatic deviation unless its trigger raised one of its category
        already; True when stored."""
        ...

    async def get(self, deviation_id: uuid.UUID) -> ProtocolDeviation | None: ...

    async def update(self, deviation: ProtocolDeviation) -> None:
        """STALE_VERSION if it moved on meanwhile."""
        ...

    async def of_participant(self, participant_id: ParticipantId) -> Sequence[ProtocolDeviation]:
        """Their deviations, oldest detected first."""
        ...
