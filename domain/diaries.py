"""ePRO diaries: schedules, entries, and what becomes of each entry the app sends.

Entries carry a client-generated id: sending one again is answered DUPLICATE with the
original result, never stored twice. An entry is pinned to a questionnaire version and its
content hash, and to an occurrence of a schedule (the "09:00 diary of 29 March").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from domain.consent import ConsentHistory, Judgement
from domain.device_time import collected_at
from domain.errors import Invalid
from domain.ids import ParticipantId, SiteId, StudyId, new_id
from domain.intake import ItemCode, Outcome
from domain.questionnaires import AnswerProblem, PlainAnswer, QuestionnaireVersion
from domain.reminders import Policy
from domain.schedules import Occurrence, Recurrence, Timeliness, classify

FUTURE_TOLERANCE = timedelta(minutes=10)


class LatePolicy(StrEnum):
    REJECT = "REJECT"  # after the window: refused with WINDOW_CLOSED
    ACCEPT_LATE = "ACCEPT_LATE"  # within the grace: stored as late; after it: quarantined


@dataclass(frozen=True)
class DiarySchedule:
    ENTITY: ClassVar[str] = "DiarySchedule"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    study_id: StudyId
    questionnaire_code: str
    arm_id: uuid.UUID | None  # None: every participant of the study
    recurrence: Recurrence
    late_policy: LatePolicy
    late_grace: timedelta
    created_at: datetime
    version: int = 1
    reminders: Policy | None = None  # the study's own reminder policy; None: the default

    @classmethod
    def new(
        cls,
        *,
        study_id: StudyId,
        questionnaire_code: str,
        arm_id: uuid.UUID | None,
        recurrence: Recurrence,
        late_policy: LatePolicy,
        late_grace: timedelta,
        now: datetime,
        reminders: Policy | None = None,
    ) -> DiarySchedule:
        if not timedelta(0) <= late_grace <= timedelta(days=7):
            raise Invalid("late_grace", "Late entries may be accepted up to 7 days.")
        if late_policy is LatePolicy.REJECT and late_grace:
            raise Invalid("late_grace", "A schedule that rejects late entries has no grace.")
        return cls(
            new_id(),
            study_id,
            questionnaire_code,
            arm_id,
            recurrence,
            late_policy,
            late_grace,
            now,
            reminders=reminders,
        )

    def applies_to(self, arm_id: uuid.UUID | None) -> bool:
        return self.arm_id is None or self.arm_id == arm_id

    @property
    def grace(self) -> timedelta | None:
        return self.late_grace if self.late_policy is LatePolicy.ACCEPT_LATE else None


class EntryStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    QUARANTINED = "QUARANTINED"  # kept for review, not counted as the occurrence's answer


# Why an entry was quarantined, rejected or flagged: the batch intake's per-item codes.
EntryCode = ItemCode


# The codes an entry can be stored with in quarantine; every other code leaves nothing stored
# (a rejection) or rides on an accepted entry (a flag).
QUARANTINE_CODES = (
    EntryCode.WINDOW_CLOSED,
    EntryCode.OLDER_VERSION,
    EntryCode.ANSWERED_ALREADY,
    EntryCode.CONSENT_SUPERSEDED,
)


@dataclass(frozen=True)
class Submission:
    """One entry as the app sends it."""

    client_id: uuid.UUID
    schedule_id: uuid.UUID
    occurrence_key: str
    questionnaire_code: str
    questionnaire_version: int
    content_hash: str
    answers: Mapping[str, object]
    completed_at: datetime  # the device's clock, with its offset

    def digest(self) -> str:
        """What makes two sends 'the same entry': everything the app decided."""
        document = {
            "schedule": str(self.schedule_id),
            "occurrence": self.occurrence_key,
            "questionnaire": [
                self.questionnaire_code,
                self.questionnaire_version,
                self.content_hash,
            ],
            "answers": self.answers,
            "completedAt": self.completed_at.isoformat(),
        }
        body = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class DiaryEntry:
    ENTITY: ClassVar[str] = "DiaryEntry"
    PERSONAL: ClassVar[frozenset[str]] = frozenset({"free_text"})
    REASON_REQUIRED: ClassVar[bool] = True

    id: uuid.UUID
    participant_id: ParticipantId
    study_id: StudyId
    site_id: SiteId
    schedule_id: uuid.UUID
    occurrence_key: str
    due_at: datetime
    questionnaire_code: str
    questionnaire_version: int
    content_hash: str
    answers: Mapping[str, PlainAnswer]  # structured answers: pseudonymous study data
    free_text: Mapping[str, str]  # free-text answers: personal, sealed
    completed_at: datetime
    received_at: datetime
    timeliness: Timeliness
    status: EntryStatus
    quarantine_code: EntryCode | None
    entered_by: uuid.UUID
    proxy_reason: str | None
    clock_skewed: bool
    digest: str
    consent_superseded: bool = False  # completed under a consent version since replaced
    version: int = 1

    def corrected(
        self, answers: Mapping[str, PlainAnswer], free_text: Mapping[str, str]
    ) -> DiaryEntry:
        return dataclasses.replace(
            self, answers=dict(answers), free_text=dict(free_text), version=self.version + 1
        )


@dataclass(frozen=True)
class Verdict:
    """What to do with one submission, decided before anything is stored."""

    outcome: Outcome
    code: EntryCode | str | None = None
    problems: tuple[AnswerProblem, ...] = ()
    occurrence: Occurrence | None = None
    timeliness: Timeliness | None = None
    superseded: bool = False  # completed under a consent version since replaced
    flag: str | None = None  # the code an accepted entry carries (re-consent due)


@dataclass(frozen=True)
class Context:
    """What the decision needs, loaded once per batch."""

    schedules: Mapping[uuid.UUID, DiarySchedule]
    versions: Mapping[tuple[str, int], QuestionnaireVersion]
    published: Mapping[tuple[str, int], datetime]  # when each version was published
    arm_id: uuid.UUID | None
    consent: ConsentHistory
    device_time: datetime | None = None  # the device's clock when it sent the batch
    occurrences: Mapping[tuple[uuid.UUID, str], Occurrence] = field(default_factory=dict)

    def latest_at(self, code: str, moment: datetime) -> int:
        """The questionnaire's current version at `moment` (0: none published yet)."""
        return max(
            (v for (c, v), at in self.published.items() if c == code and at <= moment), default=0
        )


def assess(submission: Submission, context: Context, received_at: datetime) -> Verdict:
    """Accept, quarantine or reject one entry: the rules of requirement 24 and the issue.

    The consent and the questionnaire version are those in force when the entry was completed
    (the device's time, corrected for a clock known to be off), not when it arrives: an
    offline backlog is judged as if it had been sent at once.
    """
    schedule = context.schedules.get(submission.schedule_id)
    if schedule is None or not schedule.applies_to(context.arm_id):
        return Verdict(Outcome.REJECTED, EntryCode.UNKNOWN_SCHEDULE)
    key = (submission.questionnaire_code, submission.questionnaire_version)
    version = context.versions.get(key)
    if version is None or submission.questionnaire_code != schedule.questionnaire_code:
        return Verdict(Outcome.REJECTED, EntryCode.UNKNOWN_QUESTIONNAIRE)
    if version.content_hash != submission.content_hash:
        return Verdict(Outcome.REJECTED, EntryCode.QUESTIONNAIRE_MISMATCH)
    if submission.completed_at > received_at + FUTURE_TOLERANCE or not _whole_minutes(
        submission.completed_at
    ):
        return Verdict(Outcome.REJECTED, EntryCode.INVALID_TIME)
    moment = collected_at(submission.completed_at, context.device_time, received_at)
    judgement = context.consent.judge(moment)
    if judgement.refusal is not None:
        return Verdict(Outcome.REJECTED, judgement.refusal.value)
    occurrence = context.occurrences.get((schedule.id, submission.occurrence_key))
    if occurrence is None:
        return Verdict(Outcome.REJECTED, EntryCode.UNKNOWN_OCCURRENCE)
    older = version.version < context.latest_at(version.code, moment)
    return _consented(_timely(submission, schedule, occurrence, older=older), judgement)


def _whole_minutes(moment: datetime) -> bool:
    """Device offsets are whole minutes (RFC 3339); anything finer cannot be kept as sent."""
    offset = moment.utcoffset()
    return offset is not None and not offset % timedelta(minutes=1)


def _consented(verdict: Verdict, judgement: Judgement) -> Verdict:
    """Completed before signing a newer consent version: kept, quarantined; completed under a
    consent since replaced: kept and flagged, so the app asks for re-consent."""
    if verdict.outcome is Outcome.REJECTED:
        return verdict
    if verdict.outcome is Outcome.ACCEPTED and judgement.quarantine is not None:
        verdict = dataclasses.replace(
            verdict, outcome=Outcome.QUARANTINED, code=EntryCode.CONSENT_SUPERSEDED
        )
    return dataclasses.replace(verdict, superseded=judgement.superseded, flag=judgement.flag)


def _timely(
    submission: Submission, schedule: DiarySchedule, occurrence: Occurrence, *, older: bool
) -> Verdict:
    timeliness = classify(occurrence, submission.completed_at, late_grace=schedule.grace)
    if timeliness is Timeliness.EARLY:
        return Verdict(Outcome.REJECTED, EntryCode.WINDOW_NOT_OPEN, occurrence=occurrence)
    if timeliness is Timeliness.WINDOW_CLOSED:
        if schedule.late_policy is LatePolicy.REJECT:
            return Verdict(Outcome.REJECTED, EntryCode.WINDOW_CLOSED, occurrence=occurrence)
        return Verdict(
            Outcome.QUARANTINED,
            EntryCode.WINDOW_CLOSED,
            occurrence=occurrence,
            timeliness=Timeliness.LATE,
        )
    if older:
        return Verdict(
            Outcome.QUARANTINED,
            EntryCode.OLDER_VERSION,
            occurrence=occurrence,
            timeliness=timeliness,
        )
    return Verdict(Outcome.ACCEPTED, occurrence=occurrence, timeliness=timeliness)


@dataclass(frozen=True)
class ItemResult:
    client_id: uuid.UUID
    outcome: Outcome
    code: EntryCode | str | None = None
    problems: tuple[AnswerProblem, ...] = ()
    entry: DiaryEntry | None = None


@dataclass(frozen=True)
class Compliance:
    """Occurrences whose window has closed, and how they were answered."""

    expected: int
    on_time: int
    late: int

    @property
    def missed(self) -> int:
        return max(0, self.expected - self.on_time - self.late)

    @property
    def rate(self) -> float | None:
        return None if self.expected == 0 else (self.on_time + self.late) / self.expected

    def __add__(self, other: Compliance) -> Compliance:
        return Compliance(
            self.expected + other.expected, self.on_time + other.on_time, self.late + other.late
        )


def split_answers(
    version: QuestionnaireVersion, plain: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Structured answers (study data) apart from free text (personal, sealed)."""
    personal = version.personal_items()
    structured = {k: v for k, v in plain.items() if k not in personal}
    free = {k: str(v) for k, v in plain.items() if k in personal}
    return structured, free
