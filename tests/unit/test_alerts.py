"""Alert rules, on facts and on fakes: what raises an alert, once per cause, and who may act."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from domain import alerts
from domain.actors import Role
from domain.alerts import (
    NOTIFY_SITE,
    Alert,
    AlertKind,
    AlertRule,
    AlertStatus,
    DiaryFact,
    ReadingFact,
    VisitFact,
)
from domain.errors import DomainError, ErrorCode, Forbidden, Invalid, NotFound
from domain.ids import ParticipantId, SiteId, StudyId
from domain.services import alerts as cases
from domain.services.alerts import RuleInput
from tests.factories import admin, at_site, caller, make_participant, make_site, make_study
from tests.fakes.alerts import FakeAlertsUnitOfWork
from tests.fakes.clock import FakeClock

NOW = datetime(2026, 6, 10, 9, 30, tzinfo=UTC)
STUDY = StudyId(uuid.uuid4())
SITE = SiteId(uuid.uuid4())
PERSON = ParticipantId(uuid.uuid4())


def _rule(kind: AlertKind, **fields: object) -> AlertRule:
    return AlertRule(id=uuid.uuid4(), study_id=STUDY, kind=kind, **fields)  # type: ignore[arg-type]


def _reading(value: str, kind: str = "HEART_RATE", waiting: datetime | None = None) -> ReadingFact:
    return ReadingFact(uuid.uuid4(), PERSON, SITE, kind, Decimal(value), waiting)


# --- rules on facts --------------------------------------------------------------------------


def test_a_reading_outside_its_kinds_range_raises_and_the_limits_themselves_do_not() -> None:
    rule = _rule(
        AlertKind.READING_OUT_OF_RANGE,
        reading_kind="HEART_RATE",
        low=Decimal(40),
        high=Decimal(150),
    )
    low, edge, high, other = (
        _reading("39.9"),
        _reading("150"),
        _reading("151"),
        _reading("300", "STEPS"),
    )
    causes = alerts.out_of_range(rule, [low, edge, high, other])
    assert [c.record_id for c in causes] == [low.id, high.id]
    assert causes[0].key == f"reading:{low.id}"


def test_an_upper_limit_alone_is_enough() -> None:
    rule = _rule(AlertKind.READING_OUT_OF_RANGE, reading_kind="SYSTOLIC", high=Decimal(180))
    assert (
        len(alerts.out_of_range(rule, [_reading("20", "SYSTOLIC"), _reading("181", "SYSTOLIC")]))
        == 1
    )


def test_a_quarantined_reading_raises_once_it_has_waited_long_enough() -> None:
    rule = _rule(AlertKind.QUARANTINE_WAITING, wait_hours=24)
    fresh = _reading("60", waiting=NOW - timedelta(hours=23))
    old = _reading("60", waiting=NOW - timedelta(hours=24))
    assert [c.record_id for c in alerts.quarantine_waiting(rule, [fresh, old], NOW)] == [old.id]
    at_once = _rule(AlertKind.QUARANTINE_WAITING)
    assert len(alerts.quarantine_waiting(at_once, [fresh, old], NOW)) == 2


def _visit(last_day: date | None, ends_at: datetime, zone: str = "Europe/Berlin") -> VisitFact:
    return VisitFact(uuid.uuid4(), PERSON, SITE, zone, ends_at, last_day)


def test_a_visit_is_past_its_window_after_the_windows_last_local_day() -> None:
    visit = _visit(date(2026, 6, 9), ends_at=datetime(2026, 6, 8, 10, tzinfo=UTC))
    # The end of 9 June in Berlin (UTC+2) is 22:00 UTC on 9 June.
    assert alerts.visit_due_by(visit) == datetime(2026, 6, 9, 22, tzinfo=UTC)
    assert alerts.overdue_visits([visit], datetime(2026, 6, 9, 21, 59, tzinfo=UTC)) == []
    assert len(alerts.overdue_visits([visit], datetime(2026, 6, 9, 22, tzinfo=UTC))) == 1


def test_the_window_end_follows_the_zones_daylight_saving_time() -> None:
    # Berlin leaves summer time on 25 October 2026: the day after ends at 23:00 UTC.
    autumn = _visit(date(2026, 10, 25), ends_at=datetime(2026, 10, 20, tzinfo=UTC))
    assert alerts.visit_due_by(autumn) == datetime(2026, 10, 25, 23, tzinfo=UTC)
    summer = _visit(date(2026, 10, 24), ends_at=datetime(2026, 10, 20, tzinfo=UTC))
    assert alerts.visit_due_by(summer) == datetime(2026, 10, 24, 22, tzinfo=UTC)


def test_a_visit_without_a_window_is_late_once_it_should_have_ended() -> None:
    visit = _visit(None, ends_at=NOW)
    assert alerts.overdue_visits([visit], NOW - timedelta(seconds=1)) == []
    assert len(alerts.overdue_visits([visit], NOW)) == 1


def _diaries(pattern: str) -> list[DiaryFact]:
    """One diary an hour, oldest first: 'x' answered, '.' missed."""
    schedule = uuid.UUID(int=1)
    return [
        DiaryFact(schedule, f"k{n:02}", NOW - timedelta(hours=len(pattern) - n), mark == "x")
        for n, mark in enumerate(pattern)
    ]


def test_missed_diaries_raise_after_n_in_a_row_and_name_the_first_of_the_run() -> None:
    rule = _rule(AlertKind.MISSED_DIARIES, missed=3)
    assert alerts.missed_run(rule, PERSON, SITE, _diaries("x..x.."), NOW) is None
    cause = alerts.missed_run(rule, PERSON, SITE, _diaries("x..x..."), NOW)
    assert cause is not None
    assert cause.key.endswith(":k04")
    # The same run, longer: the same cause, so no second alert.
    longer = alerts.missed_run(rule, PERSON, SITE, _diaries("x..x....."), NOW)
    assert longer is not None
    assert longer.key == cause.key
    # An answer ends the run; the next run is a new cause.
    again = alerts.missed_run(rule, PERSON, SITE, _diaries("x..x...x..."), NOW)
    assert again is not None
    assert again.key.endswith(":k08")


def test_diaries_still_open_are_not_missed() -> None:
    rule = _rule(AlertKind.MISSED_DIARIES, missed=2)
    open_now = [
        *_diaries("x."),
        DiaryFact(uuid.UUID(int=1), "open", NOW + timedelta(hours=1), False),
    ]
    assert alerts.missed_run(rule, PERSON, SITE, open_now, NOW) is None


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        (AlertKind.MISSED_DIARIES, {}, "missed"),
        (AlertKind.MISSED_DIARIES, {"missed": 0}, "missed"),
        (AlertKind.READING_OUT_OF_RANGE, {"reading_kind": "HEART_RATE"}, "low"),
        (
            AlertKind.READING_OUT_OF_RANGE,
            {"reading_kind": "HEART_RATE", "low": Decimal(9), "high": Decimal(9)},
            "low",
        ),
        (AlertKind.READING_OUT_OF_RANGE, {"low": Decimal(1)}, "readingKind"),
        (AlertKind.VISIT_OVERDUE, {"missed": 3}, "missed"),
        (AlertKind.SERIOUS_ADVERSE_EVENT, {"wait_hours": 2}, "waitHours"),
    ],
)
def test_rules_that_make_no_sense_are_refused(
    kind: AlertKind, fields: dict[str, object], field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        _rule(kind, **fields)
    assert refused.value.field == field


def test_an_alert_is_acknowledged_once_with_a_note() -> None:
    rule = _rule(AlertKind.SERIOUS_ADVERSE_EVENT)
    alert = Alert.raised(rule, alerts.serious_event(PERSON, SITE, uuid.uuid4()), NOW)
    with pytest.raises(Invalid):
        alert.acknowledged(uuid.uuid4(), "   ", NOW)
    done = alert.acknowledged(uuid.uuid4(), " Called her; she is fine. ", NOW)
    assert (done.status, done.note, done.version) == (
        AlertStatus.ACKNOWLEDGED,
        "Called her; she is fine.",
        2,
    )
    with pytest.raises(DomainError) as twice:
        done.acknowledged(uuid.uuid4(), "again", NOW)
    assert twice.value.code is ErrorCode.INVALID_TRANSITION


def test_the_site_email_says_how_many_and_where_only() -> None:
    assert alerts.new_alerts_text(1, "Berlin") == (
        "1 new alert at site Berlin",
        "1 new alert at site Berlin. Review them in the Hearth console.",
    )
    subject, body = alerts.new_alerts_text(3, "Berlin", "https://console.example.org/")
    assert subject == "3 new alerts at site Berlin"
    assert body.endswith(": https://console.example.org/")


# --- use cases on fakes ----------------------------------------------------------------------


class _World:
    def __init__(self) -> None:
        self.uow = FakeAlertsUnitOfWork(FakeClock(NOW))
        self.repo = self.uow.alerts
        self.study = make_study()
        self.site = make_site(self.study)
        self.person = make_participant(self.site)
        self.uow.studies.rows[self.study.id] = self.study
        self.uow.sites.rows[self.site.id] = self.site
        self.uow.participants.rows[self.person.id] = self.person
        self.coordinator = caller(at_site(Role.COORDINATOR, self.site))
        self.monitor = caller(at_site(Role.MONITOR, self.site))
        self.investigator = caller(at_site(Role.INVESTIGATOR, self.site))
        self.worker = caller()

    def reading(self, value: str) -> ReadingFact:
        fact = ReadingFact(uuid.uuid4(), self.person.id, self.site.id, "HEART_RATE", Decimal(value))
        self.repo.readings.append(fact)
        return fact

    async def heart_rule(self, *, email: bool = False) -> AlertRule:
        return await cases.set_rule(
            uow=self.uow,
            ctx=self.coordinator,
            study_id=self.study.id,
            rule_id=None,
            version=None,
            given=RuleInput(
                AlertKind.READING_OUT_OF_RANGE,
                email=email,
                reading_kind="heart_rate",
                high=Decimal(150),
            ),
        )


async def test_evaluating_twice_raises_each_cause_once_and_audits_it() -> None:
    w = _World()
    rule = await w.heart_rule(email=True)
    assert rule.reading_kind == "HEART_RATE"
    w.reading("60")
    high = w.reading("190")
    first = await cases.evaluate(uows=w.uow, ctx=w.worker)
    again = await cases.evaluate(uows=w.uow, ctx=w.worker)
    assert [a.record_id for a in first] == [high.id]
    assert again == []
    created = [e for e in w.uow.events if e.entity_type == "Alert"]
    assert len(created) == 1
    assert created[0].subject.site_id == w.site.id
    assert [(x.task, dict(x.args)) for x in w.uow.enqueued] == [
        (NOTIFY_SITE, {"site_id": str(w.site.id)})
    ]


async def test_a_disabled_rule_raises_nothing() -> None:
    w = _World()
    rule = await w.heart_rule()
    await cases.set_rule(
        uow=w.uow,
        ctx=w.coordinator,
        study_id=w.study.id,
        rule_id=rule.id,
        version=rule.version,
        given=RuleInput(
            AlertKind.READING_OUT_OF_RANGE,
            enabled=False,
            reading_kind="HEART_RATE",
            high=Decimal(150),
        ),
    )
    w.reading("190")
    assert await cases.evaluate(uows=w.uow, ctx=w.worker) == []


async def test_a_stale_rule_version_is_refused() -> None:
    w = _World()
    rule = await w.heart_rule()
    with pytest.raises(DomainError) as stale:
        await cases.set_rule(
            uow=w.uow,
            ctx=w.coordinator,
            study_id=w.study.id,
            rule_id=rule.id,
            version=rule.version + 1,
            given=RuleInput(AlertKind.VISIT_OVERDUE),
        )
    assert stale.value.code is ErrorCode.STALE_VERSION


async def test_only_study_designers_configure_rules() -> None:
    w = _World()
    with pytest.raises(Forbidden):
        await cases.set_rule(
            uow=w.uow,
            ctx=w.investigator,
            study_id=w.study.id,
            rule_id=None,
            version=None,
            given=RuleInput(AlertKind.VISIT_OVERDUE),
        )
    rule = await cases.set_rule(
        uow=w.uow,
        ctx=caller(admin()),
        study_id=w.study.id,
        rule_id=None,
        version=None,
        given=RuleInput(AlertKind.VISIT_OVERDUE),
    )
    assert rule.kind is AlertKind.VISIT_OVERDUE


async def test_the_site_acknowledges_with_a_sealed_note_and_monitors_only_look() -> None:
    w = _World()
    await w.heart_rule()
    w.reading("190")
    (alert,) = await cases.evaluate(uows=w.uow, ctx=w.worker)
    with pytest.raises(Forbidden):
        await cases.acknowledge(uow=w.uow, ctx=w.monitor, alert_id=alert.id, note="Seen")
    done = await cases.acknowledge(
        uow=w.uow,
        ctx=w.coordinator,
        alert_id=alert.id,
        note="Phoned Ms Schmidt",
    )
    assert done.status is AlertStatus.ACKNOWLEDGED
    change = w.uow.events[-1]
    assert change.action == "acknowledged"
    assert [f.personal for f in change.fields if f.field == "note"] == [True]
    (seen,) = await cases.of_site(uow=w.uow, ctx=w.monitor, site_id=w.site.id, status=None)
    assert seen.status is AlertStatus.ACKNOWLEDGED
    assert seen.note is None
    (mine,) = await cases.of_site(
        uow=w.uow,
        ctx=w.coordinator,
        site_id=w.site.id,
        status=AlertStatus.ACKNOWLEDGED,
    )
    assert mine.note == "Phoned Ms Schmidt"
    assert (
        await cases.of_site(
            uow=w.uow, ctx=w.coordinator, site_id=w.site.id, status=AlertStatus.OPEN
        )
        == []
    )


async def test_other_sites_see_no_alerts_and_cannot_probe_them() -> None:
    w = _World()
    await w.heart_rule()
    w.reading("190")
    (alert,) = await cases.evaluate(uows=w.uow, ctx=w.worker)
    elsewhere = make_site(w.study)
    w.uow.sites.rows[elsewhere.id] = elsewhere
    stranger = caller(at_site(Role.COORDINATOR, elsewhere))
    with pytest.raises(NotFound):
        await cases.acknowledge(uow=w.uow, ctx=stranger, alert_id=alert.id, note="x")
    with pytest.raises(NotFound):
        await cases.of_site(uow=w.uow, ctx=stranger, site_id=w.site.id, status=None)
