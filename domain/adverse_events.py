"""Adverse events: reported by the participant in their own words, recorded or confirmed by
site staff with the coded fields a sponsor needs, corrected with a coded reason, and, when
serious, reported to the sponsor within 24 hours."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Protocol

from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import ParticipantId, SiteId, StudyId, new_id
from domain.reason_codes import ReasonCode

# A serious adverse event must reach the sponsor within this long of the site learning of it.
REPORTING_WINDOW = timedelta(hours=24)


class AdverseEventStatus(StrEnum):
    REPORTED = "REPORTED"  # by the participant, not yet reviewed by the site
    RECORDED = "RECORDED"  # recorded or confirmed by site staff


class ReportedBy(StrEnum):
    PARTICIPANT = "PARTICIPANT"
    SITE = "SITE"


class Severity(StrEnum):
    """Mild/moderate/severe, or a CTCAE grade (AESEV and AETOXGR in SDTM)."""

    MILD = "MILD"
    MODERATE = "MODERATE"
    SEVERE = "SEVERE"
    GRADE_1 = "GRADE_1"
    GRADE_2 = "GRADE_2"
    GRADE_3 = "GRADE_3"
    GRADE_4 = "GRADE_4"
    GRADE_5 = "GRADE_5"


class Seriousness(StrEnum):
    """ICH E2A seriousness criteria (AESDTH, AESLIFE, AESHOSP, AESDISAB, AESCONG, AESMIE)."""

    DEATH = "DEATH"
    LIFE_THREATENING = "LIFE_THREATENING"
    HOSPITALISATION = "HOSPITALISATION"
    DISABILITY = "DISABILITY"
    CONGENITAL_ANOMALY = "CONGENITAL_ANOMALY"
    MEDICALLY_IMPORTANT = "MEDICALLY_IMPORTANT"


class Relationship(StrEnum):
    NOT_RELATED = "NOT_RELATED"
    UNLIKELY_RELATED = "UNLIKELY_RELATED"
    POSSIBLY_RELATED = "POSSIBLY_RELATED"
    PROBABLY_RELATED = "PROBABLY_RELATED"
    RELATED = "RELATED"


class ActionTaken(StrEnum):
    DOSE_NOT_CHANGED = "DOSE_NOT_CHANGED"
    DOSE_REDUCED = "DOSE_REDUCED"
    DOSE_INCREASED = "DOSE_INCREASED"
    DRUG_INTERRUPTED = "DRUG_INTERRUPTED"
    DRUG_WITHDRAWN = "DRUG_WITHDRAWN"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    UNKNOWN = "UNKNOWN"


class AdverseEventOutcome(StrEnum):
    RECOVERED = "RECOVERED"
    RECOVERING = "RECOVERING"
    NOT_RECOVERED = "NOT_RECOVERED"
    RECOVERED_WITH_SEQUELAE = "RECOVERED_WITH_SEQUELAE"
    FATAL = "FATAL"
    UNKNOWN = "UNKNOWN"


_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def partial_date(value: str | None, field: str) -> str | None:
    """An ISO 8601 date that may lack its day or month, as SDTM allows: 2026, 2026-06,
    2026-06-03."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    found = _PARTIAL.match(text)
    if found is None:
        raise Invalid(field, "Use a date such as 2026-06-03, 2026-06 or 2026.")
    year, month, day = found.groups()
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError as error:
        raise Invalid(field, "This date does not exist.") from error
    return text


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise Invalid(field, "Write what happened.")
        return None
    text = value.strip()
    if len(text) > limit or "\x00" in text:
        raise Invalid(field, f"Write at most {limit} characters.")
    return text


def _code(value: str | None, field: str) -> str | None:
    """A dictionary code (MedDRA LLT/PT) as a plain field: digits only, no dictionary shipped."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 12:
        raise Invalid(field, "A MedDRA code is up to 12 digits.")
    return text


@dataclass(frozen=True)
class AdverseEventDetails:
    """What site staff record: every field a sponsor and SDTM AE expect."""

    term: str  # AETERM: the reported term
    onset: str | None = None  # partial ISO 8601 date
    end: str | None = None
    ongoing: bool = False
    severity: Severity | None = None
    seriousness: tuple[Seriousness, ...] = ()
    relationship: Relationship | None = None
    action_taken: ActionTaken | None = None
    outcome: AdverseEventOutcome | None = None
    llt_code: str | None = None
    llt_name: str | None = None
    pt_code: str | None = None
    pt_name: str | None = None

    def checked(self) -> AdverseEventDetails:
        onset = partial_date(self.onset, "onset")
        end = partial_date(self.end, "end")
        if end is not None and onset is not None and end[: len(onset)] < onset[: len(end)]:
            raise Invalid("end", "The end is before the onset.")
        if self.ongoing and end is not None:
            raise Invalid("end", "An ongoing event has no end date.")
        return dataclasses.replace(
            self,
            term=_text(self.term, "term", 200, required=True) or "",
            onset=onset,
            end=end,
            seriousness=tuple(sorted(set(self.seriousness))),
            llt_code=_code(self.llt_code, "llt_code"),
            llt_name=_text(self.llt_name, "llt_name", 200),
            pt_code=_code(self.pt_code, "pt_code"),
            pt_name=_text(self.pt_name, "pt_name", 200),
        )


@dataclass(frozen=True)
class AdverseEvent:
    ENTITY: ClassVar[str] = "AdverseEvent"
    # The participant's own words may say more about them than the event: sealed, site-only.
    PERSONAL: ClassVar[frozenset[str]] = frozenset({"description"})
    REASON_REQUIRED: ClassVar[bool] = False  # corrections need a reason code: see `corrected`

    id: uuid.UUID
    study_id: StudyId
    site_id: SiteId
    participant_id: ParticipantId
    status: AdverseEventStatus
    reported_by: ReportedBy
    description: str | None  # the participant's words; None when withheld or erased
    details: AdverseEventDetails
    reported_at: datetime
    recorded_at: datetime | None = None
    recorded_by: uuid.UUID | None = None
    serious_since: datetime | None = None  # when the site first knew it was serious
    report_due_at: datetime | None = None
    reported_to_sponsor_at: datetime | None = None
    reason_code: ReasonCode | None = None  # of the latest correction
    version: int = 1

    @property
    def serious(self) -> bool:
        return bool(self.details.seriousness)

    def overdue(self, now: datetime) -> bool:
        """Serious, not yet reported to the sponsor, and past its due instant."""
        return (
            self.report_due_at is not None
            and self.reported_to_sponsor_at is None
            and now > self.report_due_at
        )

    @classmethod
    def reported_by_participant(
        cls,
        *,
        study_id: StudyId,
        site_id: SiteId,
        participant_id: ParticipantId,
        description: str,
        onset: str | None,
        ongoing: bool,
        now: datetime,
    ) -> AdverseEvent:
        words = _text(description, "description", 2000, required=True) or ""
        # The participant's words are personal: they stay sealed in `description` only. The
        # reported term (AETERM) is the site's to write when it confirms the report.
        checked = AdverseEventDetails(term="-", onset=onset, ongoing=ongoing).checked()
        details = dataclasses.replace(checked, term="")
        return cls(
            id=new_id(),
            study_id=study_id,
            site_id=site_id,
            participant_id=participant_id,
            status=AdverseEventStatus.REPORTED,
            reported_by=ReportedBy.PARTICIPANT,
            description=words,
            details=details,
            reported_at=now,
        )

    @classmethod
    def recorded_by_site(
        cls,
        *,
        study_id: StudyId,
        site_id: SiteId,
        participant_id: ParticipantId,
        details: AdverseEventDetails,
        by: uuid.UUID,
        now: datetime,
    ) -> AdverseEvent:
        event = cls(
            id=new_id(),
            study_id=study_id,
            site_id=site_id,
            participant_id=participant_id,
            status=AdverseEventStatus.RECORDED,
            reported_by=ReportedBy.SITE,
            description=None,
            details=details.checked(),
            reported_at=now,
            recorded_at=now,
            recorded_by=by,
        )
        return event._clocked(now)

    def confirmed(self, details: AdverseEventDetails, by: uuid.UUID, now: datetime) -> AdverseEvent:
        """The site reviews what the participant reported and records it in full."""
        if self.status is not AdverseEventStatus.REPORTED:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "This event is recorded already; correct it with a reason code.",
            )
        return dataclasses.replace(
            self,
            status=AdverseEventStatus.RECORDED,
            details=details.checked(),
            recorded_at=now,
            recorded_by=by,
            version=self.version + 1,
        )._clocked(now)

    def corrected(
        self, details: AdverseEventDetails, code: ReasonCode, now: datetime
    ) -> AdverseEvent:
        if self.status is not AdverseEventStatus.RECORDED:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "Confirm the participant's report before correcting."
            )
        return dataclasses.replace(
            self, details=details.checked(), reason_code=code, version=self.version + 1
        )._clocked(now)

    def sent_to_sponsor(self, at: datetime, now: datetime) -> AdverseEvent:
        if not self.serious:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "Only a serious event has a reporting clock."
            )
        if self.reported_to_sponsor_at is not None:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "Reported to the sponsor already.")
        if at > now:
            raise Invalid("reported_at", "This time is in the future.")
        if self.serious_since is not None and at < self.serious_since:
            raise Invalid("reported_at", "This is before the event was known to be serious.")
        return dataclasses.replace(self, reported_to_sponsor_at=at, version=self.version + 1)

    def _clocked(self, now: datetime) -> AdverseEvent:
        """The reporting clock starts the first time the site records the event as serious
        and is never restarted (a later downgrade keeps the clock already running)."""
        if not self.serious or self.serious_since is not None:
            return self
        return dataclasses.replace(self, serious_since=now, report_due_at=now + REPORTING_WINDOW)

    def withheld(self) -> AdverseEvent:
        return dataclasses.replace(self, description=None)


@dataclass(frozen=True)
class AdverseEventFilter:
    participant_id: ParticipantId | None = None
    site_id: SiteId | None = None
    serious: bool | None = None


class AdverseEventRepository(Protocol):
    async def add(self, event: AdverseEvent) -> None: ...
    async def get(self, event_id: uuid.UUID) -> AdverseEvent | None: ...

    async def update(self, event: AdverseEvent) -> None:
        """STALE_VERSION if it moved on meanwhile."""
        ...

    async def of_participant(self, participant_id: ParticipantId) -> Sequence[AdverseEvent]:
        """Their events, oldest first."""
        ...

    async def of_study(self, study_id: StudyId) -> Sequence[AdverseEvent]:
        """For exports: every event of the study, by participant and report time."""
        ...
