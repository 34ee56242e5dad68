"""Coordinator alerts: per-study rules that raise an alert on a site, once per cause.

A rule says what to watch (N consecutive missed diaries, a reading outside a per-kind
range, a visit past its window, a quarantined reading waiting for review, a serious adverse
event). The rules below are pure: given facts about a participant's data, they name the
causes that deserve an alert. A cause is a stable key (the reading, the visit, the first
diary of a missed run): storage keeps one alert per rule and cause, so evaluating twice, or
in two workers at once, never raises a second alert for the same thing.

An alert carries ids only; the acknowledgement note is free text and stays sealed.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar
from zoneinfo import ZoneInfo

from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import ParticipantId, SiteId, StudyId

EVALUATE = "alerts.evaluate"  # the worker's periodic task: evaluate every study's rules
NOTIFY_SITE = "alerts.notify_site"  # e-mail a site's staff that new alerts are waiting
MAX_MISSED = 50
MAX_NOTE = 2000


class AlertKind(StrEnum):
    MISSED_DIARIES = "MISSED_DIARIES"
    READING_OUT_OF_RANGE = "READING_OUT_OF_RANGE"
    VISIT_OVERDUE = "VISIT_OVERDUE"
    QUARANTINE_WAITING = "QUARANTINE_WAITING"
    SERIOUS_ADVERSE_EVENT = "SERIOUS_ADVERSE_EVENT"


class AlertStatus(StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"


@dataclass(frozen=True)
class AlertRule:
    """One rule of a study. Only the fields of its kind apply (others stay None)."""

    ENTITY: ClassVar[str] = "AlertRule"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    study_id: StudyId
    kind: AlertKind
    enabled: bool = True
    email: bool = False  # also e-mail the site's staff ("1 new alert at site X")
    missed: int | None = None  # MISSED_DIARIES: how many in a row
    reading_kind: str | None = None  # READING_OUT_OF_RANGE: which kind (e.g. HEART_RATE)
    low: Decimal | None = None  # below this (canonical unit) is out of range
    high: Decimal | None = None  # above this is out of range
    wait_hours: int | None = None  # QUARANTINE_WAITING: waiting longer than this
    version: int = 1

    def __post_init__(self) -> None:
        k = self.kind
        if k is AlertKind.MISSED_DIARIES:
            if self.missed is None or not 1 <= self.missed <= MAX_MISSED:
                raise Invalid("missed", f"Say how many missed diaries in a row (1-{MAX_MISSED}).")
        elif self.missed is not None:
            raise Invalid("missed", "Only a missed-diaries rule counts missed diaries.")
        if k is AlertKind.READING_OUT_OF_RANGE:
            if not self.reading_kind:
                raise Invalid("readingKind", "Say which kind of reading the range is for.")
            if self.low is None and self.high is None:
                raise Invalid("low", "Give a lower or an upper limit (or both).")
            if self.low is not None and self.high is not None and self.low >= self.high:
                raise Invalid("low", "The lower limit must be below the upper one.")
        elif self.reading_kind is not None or self.low is not None or self.high is not None:
            raise Invalid("readingKind", "Only a reading rule has a kind and limits.")
        if self.wait_hours is not None:
            if k is not AlertKind.QUARANTINE_WAITING:
                raise Invalid("waitHours", "Only a quarantine rule waits.")
            if not 0 <= self.wait_hours <= 24 * 30:
                raise Invalid("waitHours", "Wait 0 to 720 hours.")

    def changed(self, **fields: object) -> AlertRule:
        return dataclasses.replace(self, version=self.version + 1, **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Cause:
    """Why an alert is raised: on whom, and the stable key of what it is about."""

    participant_id: ParticipantId
    site_id: SiteId
    key: str
    record_id: uuid.UUID | None = None  # the reading, visit or adverse event, when one


@dataclass(frozen=True)
class Alert:
    ENTITY: ClassVar[str] = "Alert"
    PERSONAL: ClassVar[frozenset[str]] = frozenset({"note"})
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    study_id: StudyId
    site_id: SiteId
    participant_id: ParticipantId
    rule_id: uuid.UUID
    kind: AlertKind
    cause: str
    record_id: uuid.UUID | None
    raised_at: datetime
    status: AlertStatus = AlertStatus.OPEN
    acknowledged_at: datetime | None = None
    acknowledged_by: uuid.UUID | None = None
    note: str | None = None
    version: int = 1

    @classmethod
    def raised(cls, rule: AlertRule, cause: Cause, now: datetime) -> Alert:
        return cls(
            id=uuid.uuid4(),
            study_id=rule.study_id,
            site_id=cause.site_id,
            participant_id=cause.participant_id,
            rule_id=rule.id,
            kind=rule.kind,
            cause=cause.key,
            record_id=cause.record_id,
            raised_at=now,
        )

    def acknowledged(self, by: uuid.UUID, note: str, now: datetime) -> Alert:
        if self.status is AlertStatus.ACKNOWLEDGED:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "The alert was acknowledged already.")
        text = note.strip()
        if not text:
            raise Invalid("note", "Say what was done about the alert.")
        if len(text) > MAX_NOTE:
            raise Invalid("note", f"At most {MAX_NOTE} characters.")
        return dataclasses.replace(
            self,
            status=AlertStatus.ACKNOWLEDGED,
            acknowledged_at=now,
            acknowledged_by=by,
            note=text,
            version=self.version + 1,
        )


# --- facts the rules read (gathered by storage, or by fakes in tests) -----------------------


@dataclass(frozen=True)
class ReadingFact:
    id: uuid.UUID
    participant_id: ParticipantId
    site_id: SiteId
    kind: str
    value: Decimal  # in the kind's canonical unit
    quarantined_since: datetime | None = None  # received, when it is waiting for review


@dataclass(frozen=True)
class VisitFact:
    """A visit still scheduled (neither completed nor cancelled)."""

    id: uuid.UUID
    participant_id: ParticipantId
    site_id: SiteId
    timezone: str
    ends_at: datetime  # its scheduled start plus its duration
    window_last_day: date | None  # the last local day of its window; None: no window known


@dataclass(frozen=True)
class DiaryFact:
    """One closed diary occurrence of a participant, and whether an entry answered it."""

    schedule_id: uuid.UUID
    key: str
    closes_at: datetime
    answered: bool


# --- the rules -----------------------------------------------------------------------------


def out_of_range(rule: AlertRule, readings: Iterable[ReadingFact]) -> list[Cause]:
    """Readings of the rule's kind strictly below `low` or above `high`."""
    found = []
    for r in readings:
        if r.kind != rule.reading_kind:
            continue
        below = rule.low is not None and r.value < rule.low
        above = rule.high is not None and r.value > rule.high
        if below or above:
            found.append(Cause(r.participant_id, r.site_id, f"reading:{r.id}", r.id))
    return found


def quarantine_waiting(
    rule: AlertRule, readings: Iterable[ReadingFact], now: datetime
) -> list[Cause]:
    """Quarantined readings waiting longer than the rule allows (0 hours: at once)."""
    wait = timedelta(hours=rule.wait_hours or 0)
    return [
        Cause(r.participant_id, r.site_id, f"quarantine:{r.id}", r.id)
        for r in readings
        if r.quarantined_since is not None and r.quarantined_since + wait <= now
    ]


def visit_due_by(visit: VisitFact) -> datetime:
    """When a still-scheduled visit is past its window: the end of the window's last local
    day, or the end of the visit itself when it has no window (or it ends later)."""
    if visit.window_last_day is None:
        return visit.ends_at
    next_day = visit.window_last_day + timedelta(days=1)
    closes = datetime.combine(next_day, time(0), tzinfo=ZoneInfo(visit.timezone)).astimezone(UTC)
    return max(closes, visit.ends_at)


def overdue_visits(visits: Iterable[VisitFact], now: datetime) -> list[Cause]:
    return [
        Cause(v.participant_id, v.site_id, f"visit:{v.id}", v.id)
        for v in visits
        if visit_due_by(v) <= now
    ]


def missed_run(
    rule: AlertRule,
    participant_id: ParticipantId,
    site_id: SiteId,
    diaries: Sequence[DiaryFact],
    now: datetime,
) -> Cause | None:
    """The participant's latest closed diaries (all schedules, in closing order) missed
    `rule.missed` times in a row, or more. The cause is the first diary of that run: the same
    run raises one alert however long it grows; a run after an answered diary is a new one."""
    closed = sorted((d for d in diaries if d.closes_at < now), key=lambda d: (d.closes_at, d.key))
    run: list[DiaryFact] = []
    for d in closed:
        run = [] if d.answered else [*run, d]
    if rule.missed is None or len(run) < rule.missed:
        return None
    first = run[0]
    return Cause(participant_id, site_id, f"missed:{first.schedule_id}:{first.key}")


def serious_event(participant_id: ParticipantId, site_id: SiteId, event_id: uuid.UUID) -> Cause:
    return Cause(participant_id, site_id, f"adverse_event:{event_id}", event_id)


def new_alerts_text(count: int, site_name: str, link: str | None = None) -> tuple[str, str]:
    """The e-mail to site staff: how many alerts and where, never who or what."""
    noun = "alert" if count == 1 else "alerts"
    subject = f"{count} new {noun} at site {site_name}"
    where = f": {link}" if link else "."
    return subject, f"{subject}. Review them in the Hearth console{where}"
