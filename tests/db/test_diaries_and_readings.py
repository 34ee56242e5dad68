"""ePRO diaries and device readings on PostgreSQL, through the use cases, on a controlled clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.consent import ConsentText
from domain.diaries import EntryCode, LatePolicy, Submission
from domain.errors import DomainError, ErrorCode, Forbidden
from domain.ids import DeviceId, ParticipantId
from domain.intake import Outcome
from domain.pagination import PageRequest
from domain.participants import Participant, ParticipantStatus
from domain.questionnaires import Item, ItemType, QuestionnaireDraft, QuestionnaireVersion
from domain.readings import ReadingKind
from domain.records import ReadingFilter
from domain.schedules import Recurrence, Timeliness
from domain.services import (
    consent,
    design,
    devices,
    diaries,
    participants,
    questionnaires,
    readings,
    studies,
    trail,
)
from domain.studies import Site, Study
from domain.trail import TrailQuery
from infra.crypto.keys import KeyFileProvider
from infra.db.uow import SqlUnitOfWorkFactory, Storage
from infra.eventlog.writer import EventLogWriter
from tests.factories import admin, caller, make_study
from tests.fakes import FakeClock

# Monday 2 March 2026, 08:00 UTC = 09:00 in Berlin (CET): enrolment day, day 0 of the diary.
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
BERLIN = timedelta(hours=1)


def _draft(max_pain: int = 10) -> QuestionnaireDraft:
    return QuestionnaireDraft(
        code="PAIN",
        title={"en": "Pain diary"},
        languages=("en",),
        items=(
            Item(
                "PAIN",
                ItemType.SCALE,
                {"en": "Pain now?"},
                minimum=0,
                maximum=max_pain,
                anchors={0: {"en": "None"}, max_pain: {"en": "Worst"}},
            ),
            Item("NOTE", ItemType.FREE_TEXT, {"en": "Anything else?"}, required=False),
        ),
    )


@dataclass
class Diary:
    uow: SqlUnitOfWorkFactory
    clock: FakeClock
    boss: RequestContext
    study: Study
    site: Site
    coordinator: RequestContext
    monitor: RequestContext
    me: RequestContext
    person: Participant
    questionnaire: QuestionnaireVersion
    schedule_id: uuid.UUID

    def entry(
        self,
        day: int,
        *,
        answers: dict[str, object] | None = None,
        after: timedelta = timedelta(minutes=5),
        version: QuestionnaireVersion | None = None,
        client_id: uuid.UUID | None = None,
    ) -> Submission:
        """Day `day`'s 09:00 diary, completed `after` its due time (device clock in Berlin)."""
        q = version or self.questionnaire
        local_day = START.date() + timedelta(days=day)
        completed = (START + timedelta(days=day) + after).astimezone(ZoneInfo("Europe/Berlin"))
        return Submission(
            client_id=client_id or uuid.uuid4(),
            schedule_id=self.schedule_id,
            occurrence_key=f"{local_day.isoformat()}T09:00",
            questionnaire_code=q.code,
            questionnaire_version=q.version,
            content_hash=q.content_hash,
            answers=answers if answers is not None else {"PAIN": 3},
            completed_at=completed,
        )

    async def submit(self, *entries: Submission, ctx: RequestContext | None = None) -> list[Any]:
        return await diaries.submit(uow=self.uow(), ctx=ctx or self.me, submissions=entries)


@pytest.fixture
async def clocked(
    app_engine: AsyncEngine, keys: KeyFileProvider
) -> AsyncIterator[tuple[SqlUnitOfWorkFactory, FakeClock]]:
    """Like `uow` (rolled back after the test), on a clock the test moves."""
    clock = FakeClock(START - timedelta(days=3))
    async with app_engine.connect() as connection:
        outer = await connection.begin()
        sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        storage = Storage(sessions=sessions, clock=clock, keys=keys, log=EventLogWriter())
        yield SqlUnitOfWorkFactory(storage), clock
        await outer.rollback()


async def _trial(uow: SqlUnitOfWorkFactory, clock: FakeClock, policy: LatePolicy) -> Diary:
    boss = caller(admin())
    study = await studies.create_study(uow=uow(), ctx=boss, code=make_study().code, title="D")
    site = await studies.create_site(
        uow=uow(),
        ctx=boss,
        study_id=study.id,
        code="BER",
        name="Berlin",
        country="DE",
        timezone="Europe/Berlin",
    )
    coordinator = caller(
        Actor(ActorKind.STAFF, uuid.uuid4(), (Grant(Role.COORDINATOR, study.id, site.id),))
    )
    monitor = caller(
        Actor(ActorKind.STAFF, uuid.uuid4(), (Grant(Role.MONITOR, study.id, site.id),))
    )
    person = await participants.register_participant(
        uow=uow(), ctx=coordinator, site_id=site.id, screening_number="S-1"
    )
    me = caller(
        Actor(ActorKind.PARTICIPANT, person.id, (Grant(Role.PARTICIPANT, study.id, site.id),))
    )
    arm = await design.create_arm(uow=uow(), ctx=boss, study_id=study.id, code="A", name="A")
    version = await consent.publish_version(
        uow=uow(), ctx=boss, study_id=study.id, texts=(ConsentText("en", "C", "Body"),)
    )
    await consent.sign(
        uow=uow(), ctx=me, consent_version_id=version.id, language="en", name="Petra Schmidt"
    )
    published = await questionnaires.publish_version(
        uow=uow(), ctx=boss, study_id=study.id, draft=_draft()
    )
    schedule = await diaries.create_schedule(
        uow=uow(),
        ctx=boss,
        study_id=study.id,
        questionnaire_code="PAIN",
        arm_id=None,
        recurrence=Recurrence(times=(time(9, 0),), window=timedelta(hours=2)),
        late_policy=policy,
        late_grace=timedelta(hours=6 if policy is LatePolicy.ACCEPT_LATE else 0),
    )
    clock.current = START - timedelta(hours=1)  # enrolled at 08:00 Berlin: day 0 is today
    person = await participants.enrol_in_arm(
        uow=uow(), ctx=coordinator, participant_id=person.id, arm_id=arm.id
    )
    assert person.enrolled_on == START.date()
    return Diary(
        uow,
        clock,
        boss,
        study,
        site,
        coordinator,
        monitor,
        me,
        person,
        published.definition,
        schedule.id,
    )


@pytest.fixture
async def diary(clocked: tuple[SqlUnitOfWorkFactory, FakeClock]) -> Diary:
    return await _trial(*clocked, LatePolicy.ACCEPT_LATE)


async def test_due_diaries_follow_local_time(diary: Diary) -> None:
    found = await diaries.due(
        uow=diary.uow(),
        ctx=diary.me,
        participant_id=diary.person.id,
        start=START - timedelta(days=1),
        end=START + timedelta(days=30),
    )
    keys = [d.occurrence.key for d in found]
    assert keys[0] == "2026-03-02T09:00"
    assert len(keys) == 31  # from 29 March 09:00 is 07:00 UTC: 1 April's is before the end
    by_key = {d.occurrence.key: d.occurrence for d in found}
    assert by_key["2026-03-28T09:00"].due_at == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    # Summer time starts on 29 March in Berlin: 09:00 local is now 07:00 UTC.
    assert by_key["2026-03-29T09:00"].due_at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert all(d.questionnaire.content_hash == diary.questionnaire.content_hash for d in found)


async def test_each_entry_gets_an_outcome_and_a_resend_changes_nothing(diary: Diary) -> None:
    diary.clock.current = START + timedelta(days=1, hours=12)  # day 1, 13:00 Berlin
    on_time = diary.entry(0, answers={"PAIN": 3, "NOTE": "Slept badly"})
    late = diary.entry(0, after=timedelta(hours=1))  # same occurrence, another client id
    closed = diary.entry(1, after=timedelta(hours=2, minutes=30))  # day 1, 11:30: late
    invalid = diary.entry(1, answers={"PAIN": 11, "EXTRA": 1})
    unknown = Submission(**{**diary.entry(1).__dict__, "occurrence_key": "2026-03-02T10:00"})
    future = diary.entry(5)
    ancient = Submission(
        **{**diary.entry(1).__dict__, "completed_at": datetime(1, 1, 2, tzinfo=UTC)}
    )
    batch = [on_time, late, closed, invalid, unknown, future, ancient]
    results = await diary.submit(*batch)
    assert [r.client_id for r in results] == [s.client_id for s in batch]
    assert [(r.outcome, r.code) for r in results] == [
        (Outcome.ACCEPTED, None),
        (Outcome.QUARANTINED, EntryCode.ANSWERED_ALREADY),
        (Outcome.ACCEPTED, None),  # 30 minutes after the window, within the 6 h grace: late
        (Outcome.REJECTED, EntryCode.INVALID_ANSWERS),
        (Outcome.REJECTED, EntryCode.UNKNOWN_OCCURRENCE),
        (Outcome.REJECTED, EntryCode.INVALID_TIME),
        (Outcome.REJECTED, "CONSENT_REQUIRED"),  # a year-1 clock: before consent, not a crash
    ]
    assert results[0].entry.timeliness is Timeliness.ON_TIME
    # The stored fingerprint is keyed with the participant's data key: a dump cannot be used
    # to test guesses of the free text against it.
    assert results[0].entry.digest != on_time.digest()
    assert results[2].entry.timeliness is Timeliness.LATE
    assert {(p.item, p.code.value) for p in results[3].problems} == {
        ("PAIN", "OUT_OF_RANGE"),
        ("EXTRA", "UNKNOWN_ITEM"),
    }
    again = await diary.submit(*batch)
    assert [r.outcome for r in again[:3]] == [Outcome.DUPLICATE] * 3
    assert [r.entry.id for r in again[:3]] == [r.entry.id for r in results[:3]]
    assert again[1].code is EntryCode.ANSWERED_ALREADY  # the original result, again
    changed = Submission(**{**on_time.__dict__, "answers": {"PAIN": 9}})
    (conflict,) = await diary.submit(changed)
    assert (conflict.outcome, conflict.code) == (Outcome.REJECTED, EntryCode.CLIENT_ID_CONFLICT)
    stored = await diaries.get_entry(uow=diary.uow(), ctx=diary.me, entry_id=on_time.client_id)
    assert stored.answers == {"PAIN": 3}
    assert stored.free_text == {"NOTE": "Slept badly"}


async def test_the_late_policy_decides_after_the_grace(
    clocked: tuple[SqlUnitOfWorkFactory, FakeClock],
) -> None:
    strict = await _trial(*clocked, LatePolicy.REJECT)
    strict.clock.current = START + timedelta(days=1)
    (refused,) = await strict.submit(strict.entry(0, after=timedelta(hours=9)))
    assert (refused.outcome, refused.code) == (Outcome.REJECTED, EntryCode.WINDOW_CLOSED)


async def test_closed_windows_and_old_versions_are_kept_for_review(diary: Diary) -> None:
    diary.clock.current = START + timedelta(days=2)
    old = diary.questionnaire
    await questionnaires.publish_version(
        uow=diary.uow(), ctx=diary.boss, study_id=diary.study.id, draft=_draft(max_pain=5)
    )
    diary.clock.current = START + timedelta(days=2, hours=1)
    kept, then_current, older = await diary.submit(
        diary.entry(0, after=timedelta(hours=9)),
        diary.entry(1, version=old),  # completed the day before version 2 was published
        diary.entry(2, version=old),  # completed after it, on the old version
    )
    assert (kept.outcome, kept.code) == (Outcome.QUARANTINED, EntryCode.WINDOW_CLOSED)
    assert (then_current.outcome, then_current.code) == (Outcome.ACCEPTED, None)
    assert (older.outcome, older.code) == (Outcome.QUARANTINED, EntryCode.OLDER_VERSION)
    page = await diaries.entries(
        uow=diary.uow(),
        ctx=diary.coordinator,
        participant_id=diary.person.id,
        request=PageRequest(),
    )
    assert {e.id for e in page.items} == {kept.client_id, then_current.client_id, older.client_id}


async def test_proxy_entry_needs_site_staff_and_a_reason(diary: Diary) -> None:
    diary.clock.current = START + timedelta(minutes=30)
    with pytest.raises(DomainError) as raised:
        await diaries.submit(
            uow=diary.uow(),
            ctx=diary.coordinator,
            submissions=[diary.entry(0)],
            participant_id=diary.person.id,
        )
    assert raised.value.code is ErrorCode.REASON_REQUIRED
    with pytest.raises(Forbidden):
        await diaries.submit(
            uow=diary.uow(),
            ctx=diary.monitor,
            submissions=[diary.entry(0)],
            participant_id=diary.person.id,
            proxy_reason="Phoned in",
        )
    (done,) = await diaries.submit(
        uow=diary.uow(),
        ctx=diary.coordinator,
        submissions=[diary.entry(0)],
        participant_id=diary.person.id,
        proxy_reason="Read out over the phone",
    )
    assert done.outcome is Outcome.ACCEPTED
    assert done.entry is not None
    assert done.entry.proxy_reason == "Read out over the phone"


async def test_withdrawal_stops_collection_and_keeps_what_was_collected(diary: Diary) -> None:
    diary.clock.current = START + timedelta(minutes=30)
    (first,) = await diary.submit(diary.entry(0))
    await participants.change_status(
        uow=diary.uow(),
        ctx=diary.coordinator,
        participant_id=diary.person.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Moved abroad",
    )
    diary.clock.current = START + timedelta(days=1, minutes=30)
    (refused,) = await diary.submit(diary.entry(1))
    assert (refused.outcome, refused.code) == (Outcome.REJECTED, "PARTICIPANT_WITHDRAWN")
    (resent,) = await diary.submit(diary.entry(0, client_id=first.client_id))
    assert resent.outcome is Outcome.DUPLICATE  # what was stored is still answered as such
    later = await diaries.compliance(
        uow=diary.uow(), ctx=diary.coordinator, participant_ids=[diary.person.id]
    )
    assert later.expected == 1  # nothing falls due after withdrawal
    kept = await diaries.get_entry(uow=diary.uow(), ctx=diary.coordinator, entry_id=first.client_id)
    assert kept.answers == {"PAIN": 3}


async def test_compliance_counts_on_time_late_and_missed(diary: Diary) -> None:
    for day, after in ((0, timedelta(minutes=10)), (1, timedelta(hours=3))):
        diary.clock.current = START + timedelta(days=day) + after + timedelta(minutes=1)
        await diary.submit(diary.entry(day, after=after))
    diary.clock.current = START + timedelta(days=3, hours=4)  # days 0-3 have closed
    mine = await diaries.compliance(
        uow=diary.uow(), ctx=diary.coordinator, participant_ids=[diary.person.id]
    )
    assert (mine.expected, mine.on_time, mine.late, mine.missed) == (4, 1, 1, 2)
    assert mine.rate == pytest.approx(0.5)
    site = await diaries.site_compliance(
        uow=diary.uow(), ctx=diary.coordinator, site_id=diary.site.id
    )
    assert site == mine


async def test_compliance_of_the_last_days_counts_only_windows_closed_in_them(
    diary: Diary,
) -> None:
    for day, after in ((0, timedelta(minutes=10)), (1, timedelta(hours=3))):
        diary.clock.current = START + timedelta(days=day) + after + timedelta(minutes=1)
        await diary.submit(diary.entry(day, after=after))
    # Days 0-10 have closed; the last 7 days hold the windows of days 4-10 (none answered).
    diary.clock.current = START + timedelta(days=10, hours=12)
    ids = [diary.person.id]
    counts = {}
    for days in (7, 28, None):
        found = await diaries.compliance(
            uow=diary.uow(), ctx=diary.coordinator, participant_ids=ids, last_days=days
        )
        counts[days] = (found.expected, found.on_time, found.late, found.missed)
        site = await diaries.site_compliance(
            uow=diary.uow(), ctx=diary.coordinator, site_id=diary.site.id, last_days=days
        )
        assert site == found
    assert counts == {7: (7, 0, 0, 7), 28: (11, 1, 1, 9), None: (11, 1, 1, 9)}
    for wrong in (0, 367):
        with pytest.raises(DomainError) as refused:
            await diaries.compliance(
                uow=diary.uow(), ctx=diary.coordinator, participant_ids=ids, last_days=wrong
            )
        assert (refused.value.code, refused.value.field) == (
            ErrorCode.VALIDATION_FAILED,
            "lastDays",
        )


async def test_corrections_go_through_a_change_request_and_keep_the_history(
    diary: Diary, app_engine: AsyncEngine
) -> None:
    diary.clock.current = START + timedelta(minutes=30)
    (sent,) = await diary.submit(diary.entry(0, answers={"PAIN": 3, "NOTE": "Fine"}))
    with pytest.raises(DomainError) as raised:
        await diaries.correct_entry(
            uow=diary.uow(), ctx=diary.coordinator, entry_id=sent.client_id, changes={}, reason=" "
        )
    assert raised.value.code is ErrorCode.REASON_REQUIRED
    with pytest.raises(Forbidden):  # monitors raise queries; they never change data
        await diaries.correct_entry(
            uow=diary.uow(),
            ctx=diary.monitor,
            entry_id=sent.client_id,
            changes={"PAIN": 4},
            reason="Typo",
        )
    with pytest.raises(DomainError) as raised:
        await diaries.correct_entry(
            uow=diary.uow(),
            ctx=diary.coordinator,
            entry_id=sent.client_id,
            changes={"PAIN": 40},
            reason="Typo",
        )
    assert raised.value.field == "changes.PAIN"
    corrected = await diaries.correct_entry(
        uow=diary.uow(),
        ctx=diary.coordinator,
        entry_id=sent.client_id,
        changes={"PAIN": 4},
        reason="Participant misread the scale",
    )
    assert (corrected.answers, corrected.version) == ({"PAIN": 4}, 2)
    events = await trail.audit_trail(
        uow=diary.uow(),
        ctx=diary.coordinator,
        query=TrailQuery(entity_id=sent.client_id, field="answers.PAIN"),
        request=PageRequest(),
    )
    history = [
        (e.action, [(f.old.value, f.new.value) for f in e.fields if f.field == "answers.PAIN"])
        for e in events.items
    ]
    assert history == [("submitted", [(None, 3)]), ("corrected", [(3, 4)])]
    assert events.items[1].reason is not None
    assert events.items[1].reason.value == "Participant misread the scale"
    async with diary.uow() as uow:
        requests = await uow.diaries.change_requests(sent.client_id)
    assert [(r.items, r.reason) for r in requests] == [(("PAIN",), "Participant misread the scale")]


async def test_concurrent_identical_submissions_store_one_row(
    app_engine: AsyncEngine, owner_engine: AsyncEngine, keys: KeyFileProvider
) -> None:
    clock = FakeClock(START - timedelta(days=3))
    sessions = async_sessionmaker(app_engine, expire_on_commit=False)
    uow = SqlUnitOfWorkFactory(
        Storage(sessions=sessions, clock=clock, keys=keys, log=EventLogWriter())
    )
    diary = await _trial(uow, clock, LatePolicy.ACCEPT_LATE)
    clock.current = START + timedelta(minutes=20)
    entry = diary.entry(0)
    results = await asyncio.gather(*(diary.submit(entry) for _ in range(12)))
    outcomes = sorted(r[0].outcome.value for r in results)
    assert outcomes == ["ACCEPTED"] + ["DUPLICATE"] * 11
    async with owner_engine.connect() as connection:
        rows = await connection.scalar(
            text("SELECT count(*) FROM diary_entries WHERE id = :id"), {"id": entry.client_id}
        )
        events = await connection.scalar(
            text("SELECT count(*) FROM audit_events WHERE entity_id = :id"),
            {"id": entry.client_id},
        )
    assert (rows, events) == (1, 1)


# --- devices and readings --------------------------------------------------------------


def heart_rate(device: uuid.UUID, at: datetime, beats: object = 72, **extra: Any) -> dict[str, Any]:
    return {
        "deviceId": str(device),
        "kind": "HEART_RATE",
        "sourceId": extra.pop("source", f"hr-{at.isoformat()}"),
        "body": {
            "heart_rate": {"value": beats, "unit": extra.pop("unit", "beats/min")},
            "effective_time_frame": {"date_time": at.isoformat()},
        },
        **extra,
    }


async def _device(
    diary: Diary, *kinds: ReadingKind, at: datetime = START - timedelta(days=1)
) -> DeviceId:
    """A device registered and assigned at `at` (the clock goes back to where it was)."""
    now, diary.clock.current = diary.clock.current, at
    device = await devices.register(
        uow=diary.uow(),
        ctx=diary.coordinator,
        site_id=diary.site.id,
        kinds=kinds,
        model="Omron M7",
        serial=f"SN-{uuid.uuid4().hex[:8]}",
    )
    await devices.assign(
        uow=diary.uow(), ctx=diary.coordinator, device_id=device.id, participant_id=diary.person.id
    )
    diary.clock.current = now
    return device.id


async def test_a_batch_of_readings_gets_one_outcome_each_and_one_audit_event(
    diary: Diary, app_engine: AsyncEngine
) -> None:
    diary.clock.current = START + timedelta(days=1)
    watch = await _device(diary, ReadingKind.HEART_RATE, ReadingKind.BLOOD_PRESSURE)
    stranger = uuid.uuid4()
    at = START + timedelta(hours=2)
    items: list[object] = [
        heart_rate(watch, at),
        heart_rate(watch, at),  # the same record twice in one batch
        heart_rate(stranger, at, source="x"),
        heart_rate(watch, at, unit="kg", source="y"),
        heart_rate(watch, at, beats=900, source="z"),
        {
            "deviceId": str(watch),
            "kind": "BLOOD_PRESSURE",
            "sourceId": "bp-1",
            "body": {
                "systolic_blood_pressure": {"value": 16, "unit": "kPa"},
                "diastolic_blood_pressure": {"value": 10.5, "unit": "kPa"},
                "effective_time_frame": {"date_time": "2026-03-02T10:15:00+01:00"},
            },
        },
        heart_rate(watch, at.replace(tzinfo=None), source="naive"),
        "not an object",
    ]
    done = await readings.ingest(uow=diary.uow(), ctx=diary.me, items=items)
    assert [(i.index, i.outcome.value, i.code) for i in done.items] == [
        (0, "ACCEPTED", None),
        (1, "DUPLICATE", None),
        (2, "REJECTED", "UNKNOWN_DEVICE"),
        (3, "REJECTED", "INVALID_UNIT"),
        (4, "REJECTED", "IMPLAUSIBLE_VALUE"),
        (5, "ACCEPTED", None),
        (6, "REJECTED", "MISSING_OFFSET"),
        (7, "REJECTED", "INVALID_SHAPE"),
    ]
    again = await readings.ingest(uow=diary.uow(), ctx=diary.me, items=items)
    assert [i.outcome.value for i in again.items if i.outcome is not Outcome.REJECTED] == [
        "DUPLICATE"
    ] * 3
    page = await readings.page(
        uow=diary.uow(),
        ctx=diary.coordinator,
        participant_id=diary.person.id,
        filters=ReadingFilter(kind=ReadingKind.BLOOD_PRESSURE),
        request=PageRequest(),
    )
    (pressure,) = page.items
    systolic = pressure.reading.components["systolic"]
    assert (systolic.original_value, systolic.original_unit) == (Decimal(16), "kPa")
    assert systolic.unit == "mm[Hg]"
    assert str(systolic.value) == "120"  # 16 kPa / 0.133322, in whole kPa as reported
    assert pressure.reading.effective_start.utcoffset() == timedelta(hours=1)
    events = await trail.audit_trail(
        uow=diary.uow(),
        ctx=diary.coordinator,
        query=TrailQuery(participant_id=diary.person.id, entity_type="ReadingBatch"),
        request=PageRequest(),
    )
    (batch,) = events.items  # the resend stored nothing, so it logged nothing
    logged = {f.field: f.new.value for f in batch.fields}
    assert (logged["accepted"], logged["duplicates"], logged["rejected"]) == (2, 1, 5)
    assert str(logged["digest"]).startswith("sha256:")


async def _second_participant(diary: Diary) -> RequestContext:
    other = await participants.register_participant(
        uow=diary.uow(), ctx=diary.coordinator, site_id=diary.site.id, screening_number="S-2"
    )
    app = caller(
        Actor(
            ActorKind.PARTICIPANT,
            other.id,
            (Grant(Role.PARTICIPANT, diary.study.id, diary.site.id),),
        )
    )
    (version,) = await consent.versions(uow=diary.uow(), ctx=diary.boss, study_id=diary.study.id)
    await consent.sign(
        uow=diary.uow(), ctx=app, consent_version_id=version.id, language="en", name="Other"
    )
    return app


async def test_a_device_passed_on_keeps_each_holders_readings_theirs(diary: Diary) -> None:
    diary.clock.current = START + timedelta(days=1)
    watch = await _device(diary, ReadingKind.HEART_RATE)
    mine = [heart_rate(watch, START + timedelta(hours=h)) for h in (1, 2)]
    first = await readings.ingest(uow=diary.uow(), ctx=diary.me, items=mine[:1])
    assert first.items[0].outcome is Outcome.ACCEPTED
    await devices.unassign(uow=diary.uow(), ctx=diary.coordinator, device_id=watch, reason="Swap")
    other_app = await _second_participant(diary)
    assert other_app.actor.id is not None
    await devices.assign(
        uow=diary.uow(),
        ctx=diary.coordinator,
        device_id=watch,
        participant_id=ParticipantId(other_app.actor.id),
    )
    # The new holder's phone syncs the watch's memory: the first holder's readings are not
    # theirs, and stay stored once, under the first holder.
    theirs = await readings.ingest(uow=diary.uow(), ctx=other_app, items=mine)
    assert [i.code for i in theirs.items] == ["DEVICE_NOT_ASSIGNED"] * 2
    # The first holder may still send what they measured while they had it...
    late = await readings.ingest(uow=diary.uow(), ctx=diary.me, items=mine)
    assert [i.outcome for i in late.items] == [Outcome.DUPLICATE, Outcome.ACCEPTED]
    # ...but nothing after they gave it back.
    after = await readings.ingest(
        uow=diary.uow(), ctx=diary.me, items=[heart_rate(watch, START + timedelta(days=1))]
    )
    assert after.items[0].code == "DEVICE_NOT_ASSIGNED"
    with pytest.raises(Forbidden):  # staff never submit readings
        await readings.ingest(uow=diary.uow(), ctx=diary.coordinator, items=[])


async def test_a_resend_is_a_duplicate_and_a_changed_one_a_conflict(diary: Diary) -> None:
    diary.clock.current = START + timedelta(days=1)
    watch = await _device(diary, ReadingKind.HEART_RATE)
    at = START + timedelta(hours=1)
    await readings.ingest(uow=diary.uow(), ctx=diary.me, items=[heart_rate(watch, at, 70)])
    same_instant = heart_rate(watch, at.astimezone(ZoneInfo("Asia/Tokyo")), 70)
    same_instant["sourceId"] = heart_rate(watch, at)["sourceId"]
    again = await readings.ingest(
        uow=diary.uow(),
        ctx=diary.me,
        items=[same_instant, heart_rate(watch, at, 71), heart_rate(watch, at, 71)],
    )
    assert [(i.outcome, i.code) for i in again.items] == [
        (Outcome.DUPLICATE, None),
        (Outcome.REJECTED, "SOURCE_ID_CONFLICT"),
        (Outcome.REJECTED, "SOURCE_ID_CONFLICT"),
    ]
    # After withdrawal a resend still hears DUPLICATE; what was taken before the withdrawal
    # and synced after it is kept; what was taken after it is refused.
    await participants.change_status(
        uow=diary.uow(),
        ctx=diary.coordinator,
        participant_id=diary.person.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Moved abroad",
    )
    diary.clock.current = START + timedelta(days=1, hours=1)
    late = await readings.ingest(
        uow=diary.uow(),
        ctx=diary.me,
        items=[
            heart_rate(watch, at, 70),
            heart_rate(watch, at + timedelta(hours=1)),
            heart_rate(watch, START + timedelta(days=1, minutes=30)),
        ],
    )
    assert [(i.outcome, i.code) for i in late.items] == [
        (Outcome.DUPLICATE, None),
        (Outcome.ACCEPTED, None),
        (Outcome.REJECTED, "PARTICIPANT_WITHDRAWN"),
    ]


async def test_readings_page_by_time_summarise_by_local_day_and_delete_logically(
    diary: Diary,
) -> None:
    diary.clock.current = START + timedelta(days=3)
    watch = await _device(diary, ReadingKind.HEART_RATE)
    # 23:30 UTC on 2 March is 00:30 on 3 March in Berlin: it counts for the 3rd.
    times = [START + timedelta(hours=h) for h in (0, 4, 15.5, 24, 26)]
    beats = [60, 80, 100, 70, 90]
    done = await readings.ingest(
        uow=diary.uow(),
        ctx=diary.me,
        items=[heart_rate(watch, t, b) for t, b in zip(times, beats, strict=True)],
    )
    assert all(i.outcome is Outcome.ACCEPTED for i in done.items)
    seen: list[datetime] = []
    after = None
    while True:
        page = await readings.page(
            uow=diary.uow(),
            ctx=diary.coordinator,
            participant_id=diary.person.id,
            filters=ReadingFilter(kind=ReadingKind.HEART_RATE),
            request=PageRequest(first=2, after=after),
        )
        seen += [r.reading.effective_start for r in page.items]
        if not page.has_next_page:
            break
        last = page.items[-1]
        after = (last.reading.effective_start.isoformat(), str(last.id))
    assert seen == times
    window = await readings.page(
        uow=diary.uow(),
        ctx=diary.me,
        participant_id=diary.person.id,
        filters=ReadingFilter(since=times[1], until=times[3]),
        request=PageRequest(),
    )
    assert [r.reading.effective_start for r in window.items] == times[1:3]
    summaries = await readings.daily(
        uow=diary.uow(),
        ctx=diary.coordinator,
        participant_id=diary.person.id,
        kind=ReadingKind.HEART_RATE,
        first=date(2026, 3, 1),
        last=date(2026, 3, 4),
    )
    assert [(s.day, s.count, s.minimum, s.maximum, s.mean) for s in summaries] == [
        (date(2026, 3, 2), 2, Decimal(60), Decimal(80), Decimal(70)),
        (date(2026, 3, 3), 3, Decimal(70), Decimal(100), Decimal("86.667")),
    ]
    first_id = done.items[0].reading_id
    assert first_id is not None
    with pytest.raises(DomainError) as raised:
        await readings.delete(
            uow=diary.uow(), ctx=diary.coordinator, reading_id=first_id, reason=""
        )
    assert raised.value.code is ErrorCode.REASON_REQUIRED
    with pytest.raises(Forbidden):
        await readings.delete(
            uow=diary.uow(), ctx=diary.monitor, reading_id=first_id, reason="Strap loose"
        )
    deleted = await readings.delete(
        uow=diary.uow(), ctx=diary.coordinator, reading_id=first_id, reason="Strap loose"
    )
    assert deleted.deleted_at is not None
    visible = await readings.page(
        uow=diary.uow(),
        ctx=diary.coordinator,
        participant_id=diary.person.id,
        filters=ReadingFilter(),
        request=PageRequest(),
    )
    everything = await readings.page(
        uow=diary.uow(),
        ctx=diary.coordinator,
        participant_id=diary.person.id,
        filters=ReadingFilter(include_deleted=True),
        request=PageRequest(),
    )
    assert (len(visible.items), len(everything.items)) == (4, 5)
