"""Intake use cases on fakes: offline backlogs judged at collection time, withdrawal scope,
listed occurrences not yet open, diaryDue before consent, dropped consent languages, and the
review of quarantined readings."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from domain.actors import Actor, ActorKind, Grant, Origin, RequestContext, Role
from domain.consent import ConsentText, ConsentVersion
from domain.deviations import DeviationCategory, DeviationSeverity, DeviationSource, Trigger
from domain.devices import ReadingStatus
from domain.diaries import EntryCode, ItemResult, LatePolicy, Submission
from domain.errors import DomainError, ErrorCode
from domain.intake import Outcome
from domain.pagination import PageRequest
from domain.participants import Participant, ParticipantStatus
from domain.questionnaires import Item, ItemType, QuestionnaireDraft
from domain.readings import ReadingKind
from domain.records import ReadingFilter
from domain.schedules import Recurrence
from domain.services import (
    consent,
    design,
    devices,
    diaries,
    participants,
    quarantine,
    questionnaires,
    readings,
)
from tests.factories import admin, at_site, caller, make_participant, make_site, make_study
from tests.fakes import FakeClock, FakeUnitOfWork

START = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)  # Monday, 08:00 in Berlin
BERLIN = timezone(timedelta(hours=2))
DRAFT = QuestionnaireDraft(
    code="PAIN",
    title={"en": "Pain"},
    languages=("en",),
    items=(Item("PAIN", ItemType.INTEGER, {"en": "Pain?"}, minimum=0, maximum=10),),
)


@dataclasses.dataclass
class World:
    uow: FakeUnitOfWork
    person: Participant
    me: RequestContext
    staff: RequestContext
    schedule: uuid.UUID
    v1: ConsentVersion

    def at(self, moment: datetime) -> None:
        self.uow.clock.current = moment

    def entry(self, day: int, completed: datetime, **fields: object) -> Submission:
        key = f"{(START.date() + timedelta(days=day)).isoformat()}T09:00"
        q = self.uow.questionnaires.rows[0].definition
        values: dict[str, object] = {
            "client_id": uuid.uuid4(),
            "schedule_id": self.schedule,
            "occurrence_key": key,
            "questionnaire_code": q.code,
            "questionnaire_version": q.version,
            "content_hash": q.content_hash,
            "answers": {"PAIN": 3},
            "completed_at": completed.astimezone(BERLIN),
        }
        return Submission(**(values | fields))  # type: ignore[arg-type]

    async def submit(
        self, *entries: Submission, ctx: RequestContext | None = None
    ) -> list[ItemResult]:
        return list(await diaries.submit(uow=self.uow, ctx=ctx or self.me, submissions=entries))

    async def publish(self, *languages: str, reason: str | None = None) -> ConsentVersion:
        texts = tuple(ConsentText(lang, "Consent", "Body") for lang in languages or ("en",))
        return await consent.publish_version(
            uow=self.uow,
            ctx=caller(admin()),
            study_id=self.person.study_id,
            texts=texts,
            reason=reason,
        )


async def _world() -> World:
    """Enrolled on 4 May at 08:00 Berlin with consent v1 (in German); a 09:00 diary."""
    uow = FakeUnitOfWork(FakeClock(START - timedelta(days=1)))
    site = make_site()
    await uow.studies.add(dataclasses.replace(make_study(), id=site.study_id))
    await uow.sites.add(site)
    person = make_participant(site, registered_at=START - timedelta(days=1))
    await uow.participants.try_add(person)
    boss = caller(admin())
    await questionnaires.publish_version(uow=uow, ctx=boss, study_id=site.study_id, draft=DRAFT)
    schedule = await diaries.create_schedule(
        uow=uow,
        ctx=boss,
        study_id=site.study_id,
        questionnaire_code="PAIN",
        arm_id=None,
        recurrence=Recurrence(times=(time(9, 0),), window=timedelta(hours=2)),
        late_policy=LatePolicy.ACCEPT_LATE,
        late_grace=timedelta(hours=6),
    )
    v1 = await consent.publish_version(
        uow=uow, ctx=boss, study_id=site.study_id, texts=(ConsentText("de", "E", "Text"),)
    )
    grants = (Grant(Role.PARTICIPANT, site.study_id, site.id),)
    me = caller(Actor(ActorKind.PARTICIPANT, person.id, grants))
    await consent.sign(uow=uow, ctx=me, consent_version_id=v1.id, language="de", name="Me")
    staff = caller(at_site(Role.COORDINATOR, site))
    arm = await design.create_arm(uow=uow, ctx=boss, study_id=site.study_id, code="A", name="A")
    uow.clock.current = START
    enrolled = await participants.enrol_in_arm(
        uow=uow, ctx=staff, participant_id=person.id, arm_id=arm.id
    )
    return World(uow, enrolled, me, staff, schedule.id, v1)


async def test_an_entry_completed_under_a_consent_no_longer_current_raises_a_deviation_once() -> (
    None
):
    w = await _world()
    w.at(START + timedelta(days=1, hours=8))  # v2 published on day 1, 16:00 Berlin
    await w.publish("de")
    w.at(START + timedelta(days=3))
    before = w.entry(0, START + timedelta(hours=1, minutes=10))  # under v1, while current
    after = w.entry(2, START + timedelta(days=2, hours=1, minutes=10))  # after v2 was out
    _, held = await w.submit(before, after)
    assert held.code is EntryCode.CONSENT_SUPERSEDED
    (deviation,) = w.uow.deviations.rows.values()
    assert (deviation.category, deviation.severity, deviation.source) == (
        DeviationCategory.CONSENT,
        DeviationSeverity.MAJOR,
        DeviationSource.AUTOMATIC,
    )
    assert deviation.trigger == Trigger("DiaryEntry", held.client_id)
    assert deviation.occurred_on == "2026-05-06"
    assert w.uow.events[-1].action == "raised"
    await w.submit(before, after)  # the phone resends: duplicates raise nothing more
    assert len(w.uow.deviations.rows) == 1


async def test_an_offline_backlog_is_judged_by_the_consent_in_force_when_it_was_completed() -> None:
    w = await _world()
    w.at(START + timedelta(days=1, hours=8))  # v2 published on day 1, 16:00 Berlin
    await w.publish("de")
    w.at(START + timedelta(days=3))  # the phone comes back online two days later
    before = w.entry(0, START + timedelta(hours=1, minutes=10))  # under v1, while current
    after = w.entry(2, START + timedelta(days=2, hours=1, minutes=10))  # after v2 was out
    kept, held = await w.submit(before, after)
    assert (kept.outcome, kept.code) == (Outcome.ACCEPTED, "RECONSENT_REQUIRED")
    assert kept.entry is not None
    assert kept.entry.consent_superseded
    assert (held.outcome, held.code) == (Outcome.QUARANTINED, EntryCode.CONSENT_SUPERSEDED)
    logged = {f.field: f.new for f in w.uow.events[-2].fields}
    assert logged["consent_superseded"] is True
    with pytest.raises(DomainError) as raised:  # diaryDue says why there is nothing to do
        await diaries.due(
            uow=w.uow,
            ctx=w.me,
            participant_id=w.person.id,
            start=START,
            end=START + timedelta(days=7),
        )
    assert raised.value.code is ErrorCode.CONSENT_REQUIRED


async def test_diary_due_before_any_consent_names_it_instead_of_an_empty_list() -> None:
    w = await _world()
    stranger = make_participant(
        dataclasses.replace(make_site(), id=w.person.site_id, study_id=w.person.study_id)
    )
    await w.uow.participants.try_add(stranger)
    with pytest.raises(DomainError) as raised:
        await diaries.due(
            uow=w.uow,
            ctx=w.staff,
            participant_id=stranger.id,
            start=START,
            end=START + timedelta(days=1),
        )
    assert raised.value.code is ErrorCode.CONSENT_REQUIRED
    due = await diaries.due(
        uow=w.uow, ctx=w.me, participant_id=w.person.id, start=START, end=START + timedelta(days=1)
    )
    assert [d.occurrence.key for d in due] == ["2026-05-04T09:00"]


async def test_a_listed_occurrence_whose_window_has_not_opened_is_window_not_open() -> None:
    w = await _world()
    w.at(START + timedelta(hours=1))
    listed = await diaries.due(
        uow=w.uow,
        ctx=w.me,
        participant_id=w.person.id,
        start=START + timedelta(days=9),
        end=START + timedelta(days=10),
    )
    ahead = listed[0].occurrence
    early = w.entry(9, START + timedelta(hours=1))
    assert early.occurrence_key == ahead.key
    (result,) = await w.submit(early)
    assert (result.outcome, result.code) == (Outcome.REJECTED, EntryCode.WINDOW_NOT_OPEN)
    assert not w.uow.diaries.rows  # nothing stored
    (odd,) = await w.submit(
        w.entry(9, START + timedelta(hours=1), occurrence_key="2026-05-13T10:00")
    )
    assert odd.code is EntryCode.UNKNOWN_OCCURRENCE


async def test_a_device_clock_known_to_be_off_is_corrected_before_judging() -> None:
    w = await _world()
    w.at(START + timedelta(hours=1, minutes=30))
    await participants.change_status(
        uow=w.uow,
        ctx=w.staff,
        participant_id=w.person.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Moved",
    )
    w.at(START + timedelta(hours=2))
    # The phone runs an hour behind: its "07:05 UTC" was 08:05, after the withdrawal at 07:30.
    phone = START + timedelta(hours=1)
    behind = RequestContext(w.me.actor, Origin(request_id="r", device_time=phone))
    entry = w.entry(0, START + timedelta(hours=1, minutes=5))
    (refused,) = await w.submit(entry, ctx=behind)
    assert (refused.outcome, refused.code) == (Outcome.REJECTED, "PARTICIPANT_WITHDRAWN")
    (kept,) = await w.submit(entry)  # without a device clock: taken as sent, before withdrawal
    assert kept.outcome is Outcome.ACCEPTED


async def test_an_offset_finer_than_minutes_is_invalid_time_not_a_crash() -> None:
    w = await _world()
    w.at(START + timedelta(hours=1, minutes=30))
    odd = timezone(timedelta(hours=5, minutes=30, seconds=15))
    (result,) = await w.submit(
        w.entry(0, START + timedelta(hours=1, minutes=10), completed_at=START.astimezone(odd))
    )
    assert (result.outcome, result.code) == (Outcome.REJECTED, EntryCode.INVALID_TIME)


async def test_a_withdrawal_covering_collected_data_refuses_what_arrives_later() -> None:
    w = await _world()
    with pytest.raises(DomainError) as raised:
        await participants.change_status(
            uow=w.uow,
            ctx=w.staff,
            participant_id=w.person.id,
            status=ParticipantStatus.COMPLETED,
            reason="Done",
            covers_collected_data=True,
        )
    assert raised.value.field == "covers_collected_data"
    w.at(START + timedelta(hours=1, minutes=30))
    await participants.change_status(
        uow=w.uow,
        ctx=w.staff,
        participant_id=w.person.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="No longer wants her data used",
        covers_collected_data=True,
    )
    assert {f.field: f.new for f in w.uow.events[-1].fields}["covers_collected_data"] is True
    (refused,) = await w.submit(w.entry(0, START + timedelta(hours=1, minutes=10)))
    assert (refused.outcome, refused.code) == (Outcome.REJECTED, "PARTICIPANT_WITHDRAWN")


async def test_a_version_that_drops_a_signed_language_needs_a_reason() -> None:
    w = await _world()
    with pytest.raises(DomainError) as raised:
        await w.publish("en")
    assert raised.value.code is ErrorCode.CONSENT_LANGUAGE_DROPPED
    assert len(w.uow.consents.documents) == 1  # nothing published
    await w.publish("en", reason="German text under ethics review; sites read it aloud")
    logged = w.uow.events[-1]
    assert logged.reason == "German text under ethics review; sites read it aloud"
    assert {f.field: f.new for f in logged.fields}["dropped_languages"] == ["de"]
    await participants.change_status(
        uow=w.uow,
        ctx=w.staff,
        participant_id=w.person.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Moved",
    )
    await w.publish("fr")  # nobody who takes part signed in German any more


async def _watch(w: World, *, assign: bool) -> uuid.UUID:
    device = await devices.register(
        uow=w.uow,
        ctx=w.staff,
        site_id=w.person.site_id,
        kinds=(ReadingKind.HEART_RATE,),
        model="Watch",
        serial=f"W-{uuid.uuid4().hex[:6]}",
    )
    if assign:
        await devices.assign(
            uow=w.uow, ctx=w.staff, device_id=device.id, participant_id=w.person.id
        )
    return device.id


def _heart(device: uuid.UUID, at: datetime, kind: str = "HEART_RATE") -> dict[str, object]:
    return {
        "deviceId": str(device),
        "kind": kind,
        "sourceId": f"hr-{at.isoformat()}",
        "body": {
            "heart_rate": {"value": 70, "unit": "/min"},
            "body_weight": {"value": 70, "unit": "kg"},
            "effective_time_frame": {"date_time": at.isoformat()},
        },
    }


async def test_readings_before_the_assignment_wait_for_review_with_distinct_codes() -> None:
    w = await _world()
    w.at(START + timedelta(hours=2))
    watch = await _watch(w, assign=True)  # the nurse records the assignment at 08:00 UTC
    w.at(START + timedelta(hours=3))
    done = await readings.ingest(
        uow=w.uow,
        ctx=w.me,
        items=[
            _heart(watch, START + timedelta(hours=1, minutes=50)),  # set up ten minutes early
            _heart(watch, START + timedelta(hours=2, minutes=30)),
            _heart(uuid.uuid4(), START + timedelta(hours=2, minutes=30)),
            _heart(watch, START + timedelta(hours=2, minutes=40), kind="BODY_WEIGHT"),
        ],
    )
    assert [(i.outcome, i.code) for i in done.items] == [
        (Outcome.QUARANTINED, "OUTSIDE_ASSIGNMENT"),
        (Outcome.ACCEPTED, None),
        (Outcome.REJECTED, "UNKNOWN_DEVICE"),
        (Outcome.REJECTED, "KIND_NOT_SUPPORTED"),
    ]
    held = done.items[0].reading_id
    assert held is not None
    assert w.uow.readings.rows[held].status is ReadingStatus.QUARANTINED
    page = await quarantine.quarantined(
        uow=w.uow, ctx=w.staff, site_id=w.person.site_id, request=PageRequest()
    )
    assert [r.id for r in page.items] == [held]
    with pytest.raises(DomainError) as raised:
        await quarantine.accept(uow=w.uow, ctx=w.staff, reading_id=held, reason=" ")
    assert raised.value.code is ErrorCode.REASON_REQUIRED
    monitor = caller(
        Actor(
            ActorKind.STAFF,
            uuid.uuid4(),
            (Grant(Role.MONITOR, w.person.study_id, w.person.site_id),),
        )
    )
    with pytest.raises(DomainError) as raised:
        await quarantine.accept(uow=w.uow, ctx=monitor, reading_id=held, reason="ok")
    assert raised.value.code is ErrorCode.FORBIDDEN
    accepted = await quarantine.accept(
        uow=w.uow, ctx=w.staff, reading_id=held, reason="Watch set up before the assignment"
    )
    assert (accepted.status, accepted.quarantine_code) == (
        ReadingStatus.ACCEPTED,
        "OUTSIDE_ASSIGNMENT",
    )
    event = w.uow.events[-1]
    assert (event.action, event.reason) == ("accepted", "Watch set up before the assignment")
    status = event.fields[0]
    assert (status.field, status.old, status.new) == (
        "status",
        "QUARANTINED",
        "ACCEPTED",
    )
    with pytest.raises(DomainError) as raised:  # decided once
        await quarantine.reject(uow=w.uow, ctx=w.staff, reading_id=held, reason="No")
    assert raised.value.code is ErrorCode.INVALID_TRANSITION


async def test_a_rejected_reading_stays_stored_but_out_of_the_participants_list() -> None:
    w = await _world()
    w.at(START + timedelta(hours=3))
    spare = await _watch(w, assign=False)  # registered at the site, never assigned
    done = await readings.ingest(
        uow=w.uow, ctx=w.me, items=[_heart(spare, START + timedelta(hours=2))]
    )
    (item,) = done.items
    assert (item.outcome, item.code) == (Outcome.QUARANTINED, "OUTSIDE_ASSIGNMENT")
    assert item.reading_id is not None
    again = await readings.ingest(
        uow=w.uow, ctx=w.me, items=[_heart(spare, START + timedelta(hours=2))]
    )
    assert (again.items[0].outcome, again.items[0].code) == (
        Outcome.DUPLICATE,
        "OUTSIDE_ASSIGNMENT",
    )
    await quarantine.reject(
        uow=w.uow, ctx=w.staff, reading_id=item.reading_id, reason="Worn by her grandson"
    )
    listed = await readings.page(
        uow=w.uow,
        ctx=w.me,
        participant_id=w.person.id,
        filters=ReadingFilter(),
        request=PageRequest(),
    )
    everything = await readings.page(
        uow=w.uow,
        ctx=w.me,
        participant_id=w.person.id,
        filters=ReadingFilter(include_deleted=True),
        request=PageRequest(),
    )
    assert (len(listed.items), len(everything.items)) == (0, 1)
    assert everything.items[0].status is ReadingStatus.REJECTED
