"""Intake on PostgreSQL: summaries by zone history, device offsets end to end, quarantined
readings reviewed, withdrawals stored with their reach, offline entries under an old consent."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.consent import ConsentText
from domain.devices import ReadingStatus
from domain.diaries import EntryCode
from domain.intake import Outcome
from domain.pagination import PageRequest
from domain.participants import ParticipantStatus
from domain.readings import ReadingKind
from domain.records import ReadingFilter
from domain.services import consent, diaries, participants, quarantine, readings, trail
from domain.trail import TrailQuery
from tests.db.test_diaries_and_readings import (  # the same trial, on a clock the test moves
    START,
    Diary,
    _device,
    clocked,
    diary,
    heart_rate,
)
from tests.factories import caller

__all__ = ["clocked", "diary"]  # fixtures used here


async def test_daily_summaries_date_each_reading_in_the_zone_it_was_taken_in(diary: Diary) -> None:
    diary.clock.current = START + timedelta(days=2)  # 4 March: the phone reports Tokyo
    watch = await _device(diary, ReadingKind.HEART_RATE)
    await participants.report_timezone(uow=diary.uow(), ctx=diary.me, timezone="Asia/Tokyo")
    diary.clock.current = START + timedelta(days=4)
    berlin_evening = datetime.fromisoformat("2026-03-02T20:00:00+00:00")  # 21:00 in Berlin
    tokyo_night = datetime.fromisoformat("2026-03-05T16:00:00+00:00")  # 01:00 on the 6th
    done = await readings.ingest(
        uow=diary.uow(),
        ctx=diary.me,
        items=[heart_rate(watch, berlin_evening, 60), heart_rate(watch, tokyo_night, 80)],
    )
    assert [i.outcome for i in done.items] == [Outcome.ACCEPTED] * 2
    summaries = await readings.daily(
        uow=diary.uow(),
        ctx=diary.coordinator,
        participant_id=diary.person.id,
        kind=ReadingKind.HEART_RATE,
        first=date(2026, 3, 1),
        last=date(2026, 3, 7),
    )
    # Not 3 March: that evening she was still in Berlin.
    assert [(s.day, s.count, s.mean) for s in summaries] == [
        (date(2026, 3, 2), 1, Decimal(60)),
        (date(2026, 3, 6), 1, Decimal(80)),
    ]
    only_the_6th = await readings.daily(
        uow=diary.uow(),
        ctx=diary.me,
        participant_id=diary.person.id,
        kind=ReadingKind.HEART_RATE,
        first=date(2026, 3, 6),
        last=date(2026, 3, 6),
    )
    assert [s.day for s in only_the_6th] == [date(2026, 3, 6)]


def _steps(device: uuid.UUID, start: str, end: str, sent: str) -> dict[str, Any]:
    return {
        "deviceId": str(device),
        "kind": "STEP_COUNT",
        "sourceId": "steps-dst",
        "deviceTime": sent,
        "body": {
            "step_count": 1200,
            "effective_time_frame": {
                "time_interval": {"start_date_time": start, "end_date_time": end}
            },
        },
    }


async def test_device_offsets_survive_storage(diary: Diary) -> None:
    """An interval over the night Berlin moves to summer time, sent from a phone in summer
    time: the end and the device time come back with their own offsets, not the start's."""
    diary.clock.current = datetime.fromisoformat("2026-03-29T02:30:00+00:00")
    pedometer = await _device(diary, ReadingKind.STEP_COUNT)
    item = _steps(
        pedometer,
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-29T04:29:00+02:00",
    )
    (done,) = (await readings.ingest(uow=diary.uow(), ctx=diary.me, items=[item])).items
    assert done.outcome is Outcome.ACCEPTED
    page = await readings.page(
        uow=diary.uow(),
        ctx=diary.me,
        participant_id=diary.person.id,
        filters=ReadingFilter(kind=ReadingKind.STEP_COUNT),
        request=PageRequest(),
    )
    (stored,) = page.items
    assert stored.reading.effective_start.isoformat() == "2026-03-29T01:30:00+01:00"
    assert stored.reading.effective_end is not None
    assert stored.reading.effective_end.isoformat() == "2026-03-29T03:30:00+02:00"
    assert stored.reading.device_time is not None
    assert stored.reading.device_time.isoformat() == "2026-03-29T04:29:00+02:00"


async def test_quarantined_readings_are_listed_and_reviewed_with_a_reason(diary: Diary) -> None:
    diary.clock.current = START + timedelta(hours=2)
    watch = await _device(diary, ReadingKind.HEART_RATE, at=START + timedelta(hours=2))
    diary.clock.current = START + timedelta(hours=3)
    early = START + timedelta(hours=1, minutes=50)  # set up ten minutes before it was assigned
    done = await readings.ingest(
        uow=diary.uow(),
        ctx=diary.me,
        items=[
            heart_rate(watch, early, 64),
            heart_rate(watch, START + timedelta(hours=2, minutes=30), 70),
        ],
    )
    assert [(i.outcome, i.code) for i in done.items] == [
        (Outcome.QUARANTINED, "OUTSIDE_ASSIGNMENT"),
        (Outcome.ACCEPTED, None),
    ]
    held = done.items[0].reading_id
    assert held is not None
    listed = await quarantine.quarantined(
        uow=diary.uow(), ctx=diary.monitor, site_id=diary.site.id, request=PageRequest()
    )
    assert [r.id for r in listed.items] == [held]

    async def day() -> list[tuple[int, Decimal]]:
        found = await readings.daily(
            uow=diary.uow(),
            ctx=diary.coordinator,
            participant_id=diary.person.id,
            kind=ReadingKind.HEART_RATE,
            first=START.date(),
            last=START.date(),
        )
        return [(s.count, s.minimum) for s in found]

    before = await day()
    accepted = await quarantine.accept(
        uow=diary.uow(),
        ctx=diary.coordinator,
        reading_id=held,
        reason="Watch set up before the nurse recorded it",
    )
    assert accepted.status is ReadingStatus.ACCEPTED
    assert (await day())[0] == (before[0][0] + 1, Decimal(64))  # now it counts
    assert not (
        await quarantine.quarantined(
            uow=diary.uow(), ctx=diary.coordinator, site_id=diary.site.id, request=PageRequest()
        )
    ).items
    events = await trail.audit_trail(
        uow=diary.uow(),
        ctx=diary.coordinator,
        query=TrailQuery(entity_id=held),
        request=PageRequest(),
    )
    (review,) = events.items
    assert review.action == "accepted"
    assert review.reason is not None
    assert review.reason.value == "Watch set up before the nurse recorded it"


async def test_a_rejected_reading_is_kept_and_left_out(diary: Diary) -> None:
    diary.clock.current = START + timedelta(hours=3)
    watch = await _device(diary, ReadingKind.HEART_RATE, at=START + timedelta(hours=2))
    done = await readings.ingest(
        uow=diary.uow(), ctx=diary.me, items=[heart_rate(watch, START + timedelta(hours=1))]
    )
    held = done.items[0].reading_id
    assert held is not None
    rejected = await quarantine.reject(
        uow=diary.uow(), ctx=diary.coordinator, reading_id=held, reason="Worn by her grandson"
    )
    assert rejected.status is ReadingStatus.REJECTED
    shown = await readings.page(
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
    assert ([r.id for r in shown.items], [r.id for r in everything.items]) == ([], [held])
    assert everything.items[0].reviewed_by == diary.coordinator.actor.id


async def test_a_withdrawal_is_stored_with_its_reach(diary: Diary) -> None:
    diary.clock.current = START + timedelta(hours=4)
    await participants.change_status(
        uow=diary.uow(),
        ctx=diary.coordinator,
        participant_id=diary.person.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Does not want her data used",
        covers_collected_data=True,
    )
    state = await consent.state(
        uow=diary.uow(), ctx=diary.coordinator, participant_id=diary.person.id
    )
    assert state.withdrawal is not None
    assert (state.withdrawal.withdrawn_at, state.withdrawal.covers_collected_data) == (
        START + timedelta(hours=4),
        True,
    )
    (refused,) = await diary.submit(diary.entry(0))  # completed at 08:05, before withdrawal
    assert (refused.outcome, refused.code) == (Outcome.REJECTED, "PARTICIPANT_WITHDRAWN")
    # She no longer takes part: a version without her language needs no reason now.
    await consent.publish_version(
        uow=diary.uow(),
        ctx=diary.boss,
        study_id=diary.study.id,
        texts=(ConsentText("fr", "C", "B"),),
    )


async def _participant_app(diary: Diary) -> RequestContext:
    return caller(
        Actor(
            ActorKind.PARTICIPANT,
            diary.person.id,
            (Grant(Role.PARTICIPANT, diary.study.id, diary.site.id),),
        )
    )


async def test_entries_completed_under_a_replaced_consent_are_kept(diary: Diary) -> None:
    """Completed while v1 was current, v2 published, synced later: accepted and flagged;
    completed after v2 was published, before signing it: quarantined. Nothing is lost."""
    diary.clock.current = START + timedelta(days=1, hours=6)
    await consent.publish_version(
        uow=diary.uow(),
        ctx=diary.boss,
        study_id=diary.study.id,
        texts=(ConsentText("en", "C", "v2"),),
    )
    diary.clock.current = START + timedelta(days=2, hours=3)
    flagged, held = await diary.submit(diary.entry(1), diary.entry(2))
    assert (flagged.outcome, flagged.code) == (Outcome.ACCEPTED, "RECONSENT_REQUIRED")
    assert (held.outcome, held.code) == (Outcome.QUARANTINED, EntryCode.CONSENT_SUPERSEDED)
    stored = await diaries.get_entry(
        uow=diary.uow(), ctx=await _participant_app(diary), entry_id=flagged.client_id
    )
    assert stored.consent_superseded
    assert stored.completed_at.utcoffset() == timedelta(hours=1)  # as the device sent it
