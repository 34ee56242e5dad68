"""Retention on PostgreSQL: closing stops collection, a purge shreds exactly one study's
participants, the log still verifies, and row locks order closure against uploads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from domain import retention as rules
from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.errors import DomainError, ErrorCode
from domain.pagination import PageRequest
from domain.participants import ParticipantStatus
from domain.ports import UnitOfWorkFactory
from domain.services import contacts, diaries, participants, readings, retention, studies, trail
from domain.studies import Study, StudyStatus
from domain.trail import TrailEvent, TrailQuery, ValueState
from infra.db.uow import SqlUnitOfWorkFactory
from tests.clock import PinnedClock
from tests.conftest import Scratch
from tests.factories import admin, caller
from tests.world import DIARY_TEXT, PEOPLE, World, add_diary, build_world

ADMIN = caller(admin())
MINIMUM = 25


async def _settle(uow: UnitOfWorkFactory, world: World) -> None:
    """Record every still-active participant's completion, as the site would before closing."""
    for person in world.people:
        current = await participants.get_participant(
            uow=uow(), ctx=caller(world.coordinator), participant_id=person.id
        )
        if current.is_active:
            await participants.change_status(
                uow=uow(),
                ctx=caller(world.coordinator),
                participant_id=person.id,
                status=ParticipantStatus.WITHDRAWN,
                reason="Did not come back",
            )


async def _keys(scratch: Scratch, owners: Sequence[uuid.UUID]) -> dict[uuid.UUID, bool]:
    """Whether each data subject still has a live data key."""
    async with scratch.runtime.storage.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT owner_id, bool_or(wrapped IS NOT NULL) FROM data_keys"
                " WHERE owner_id = ANY(:owners) GROUP BY owner_id"
            ),
            {"owners": owners},
        )
        return {r[0]: r[1] for r in rows}


async def _events(scratch: Scratch) -> int:
    async with scratch.runtime.storage.sessions() as session:
        return int((await session.execute(text("SELECT count(*) FROM audit_events"))).scalar_one())


def _app(world: World) -> RequestContext:
    person = world.people[0]
    return caller(
        Actor(
            ActorKind.PARTICIPANT,
            person.id,
            (Grant(Role.PARTICIPANT, world.study.id, world.site.id),),
        )
    )


async def _refused(code: ErrorCode, action: Awaitable[object]) -> None:
    with pytest.raises(DomainError) as raised:
        await action
    assert raised.value.code is code, raised.value.message


async def test_a_purge_shreds_every_participant_of_the_study_and_no_other(
    scratch: Scratch, clock: PinnedClock
) -> None:
    uow = scratch.runtime.services.uow
    ended = await build_world(uow)
    diary = await add_diary(uow, ended)
    other = await build_world(uow)
    await _refused(
        ErrorCode.STUDY_STILL_ACTIVE,
        retention.close_study(uow=uow(), ctx=ADMIN, study_id=ended.study.id, reason="Ended"),
    )
    await _settle(uow, ended)
    closed = await retention.close_study(
        uow=uow(), ctx=ADMIN, study_id=ended.study.id, reason="Last visit of last participant"
    )
    await _nothing_new_enters(uow, ended)
    ends = rules.terms(closed, MINIMUM).ends_at
    assert ends is not None
    clock.advance(days=(ends - clock.now()).days - 1)
    await _refused(ErrorCode.RETENTION_NOT_ELAPSED, _purge(uow, closed))
    clock.advance(days=1)
    done = await _purge(uow, closed)

    assert (done.participants, done.shredded, done.study.status) == (2, 2, StudyStatus.PURGED)
    ended_ids = [p.id for p in ended.people]
    other_ids = [p.id for p in other.people]
    assert await _keys(scratch, ended_ids) == dict.fromkeys(ended_ids, False)
    assert await _keys(scratch, other_ids) == dict.fromkeys(other_ids, True)
    await _shredded_but_pseudonymous_data_stays(uow, ended, diary.entry_id)
    await _others_untouched(uow, other)
    await scratch.runtime.seal_checkpoints()  # what the worker's integrator does all along
    report = await scratch.runtime.verify_audit()
    assert report.ok, report.problem
    assert report.erased > 0

    logged = await _events(scratch)
    again = await _purge(uow, closed)
    assert (again.participants, again.shredded) == (2, 0)
    assert again.study.purged_at == done.study.purged_at
    assert await _events(scratch) == logged


def _purge(uow: UnitOfWorkFactory, study: Study) -> Awaitable[retention.Purge]:
    return retention.purge_study(
        uow=uow(),
        ctx=ADMIN,
        study_id=study.id,
        reason="Retention over; sponsor request 2051-07",
        minimum_years=MINIMUM,
    )


async def _nothing_new_enters(uow: UnitOfWorkFactory, world: World) -> None:
    """After closure: no participant, no diary entry, no reading, however late it was sent."""
    staff = caller(world.coordinator)
    await _refused(
        ErrorCode.STUDY_CLOSED,
        participants.register_participant(
            uow=uow(), ctx=staff, site_id=world.site.id, screening_number="SCR-LATE"
        ),
    )
    await _refused(
        ErrorCode.STUDY_CLOSED, diaries.submit(uow=uow(), ctx=_app(world), submissions=[])
    )
    await _refused(ErrorCode.STUDY_CLOSED, readings.ingest(uow=uow(), ctx=_app(world), items=[]))


async def _shredded_but_pseudonymous_data_stays(
    uow: UnitOfWorkFactory, world: World, entry_id: uuid.UUID
) -> None:
    staff = caller(world.coordinator)
    for person in world.people:
        kept = await participants.get_participant(uow=uow(), ctx=staff, participant_id=person.id)
        assert kept.subject_id == person.subject_id  # pseudonymous: still there
        assert kept.erased_at is not None
        assert kept.screening_number is None
        assert await contacts.get_contact(uow=uow(), ctx=staff, participant_id=person.id) is None
    entry = await diaries.get_entry(uow=uow(), ctx=staff, entry_id=entry_id)
    assert entry.answers["SEVERITY"] == 5  # the corrected structured answer stays
    assert DIARY_TEXT not in str(entry.free_text)
    found = await contacts.find_by_contact(
        uow=uow(), ctx=staff, study_id=world.study.id, email=PEOPLE[1]["email"], phone=None
    )
    assert found == []
    page = await _trail(uow, world)
    erasures = [e for e in page if e.action == "erased"]
    assert {e.entity_id for e in erasures} == {p.id for p in world.people}
    assert all(
        e.reason is not None and e.reason.value == "Retention over; sponsor request 2051-07"
        for e in erasures
    )
    named = [f for e in page for f in e.fields if f.field == "full_name"]
    assert named
    assert all(f.new.state is ValueState.ERASED for f in named)


async def _trail(uow: UnitOfWorkFactory, world: World) -> list[TrailEvent]:
    found: list[TrailEvent] = []
    for person in world.people:
        page = await trail.audit_trail(
            uow=uow(),
            ctx=caller(world.coordinator),
            query=TrailQuery(participant_id=person.id),
            request=PageRequest(first=100),
        )
        found += page.items
    return found


async def _others_untouched(uow: UnitOfWorkFactory, world: World) -> None:
    staff = caller(world.coordinator)
    for person, details in zip(world.people, world.contacts, strict=True):
        assert await contacts.get_contact(uow=uow(), ctx=staff, participant_id=person.id) == details
        kept = await participants.get_participant(uow=uow(), ctx=staff, participant_id=person.id)
        assert kept.erased_at is None
        assert kept.screening_number == person.screening_number
    study = await studies.get_study(uow=uow(), ctx=ADMIN, study_id=world.study.id)
    assert study.status is StudyStatus.OPEN


async def test_closing_waits_for_uploads_in_flight_and_purges_never_block_them(
    committing_uow: SqlUnitOfWorkFactory,
) -> None:
    world = await build_world(committing_uow)
    await _settle(committing_uow, world)
    study_id = world.study.id
    upload = committing_uow()
    async with upload:  # an upload holding the study, as collecting use cases do
        await upload.studies.hold(study_id)
        closing = asyncio.create_task(
            retention.close_study(uow=committing_uow(), ctx=ADMIN, study_id=study_id, reason="x")
        )
        await asyncio.sleep(0.5)
        assert not closing.done()  # waits for the upload to commit
        await upload.commit()
    closed = await asyncio.wait_for(closing, timeout=10)
    assert closed.status is StudyStatus.CLOSED
    purging = committing_uow()
    async with purging:  # a purge (or a retention change) locks the study, but not uploads out
        await purging.studies.lock(study_id)
        late = committing_uow()
        async with late:
            held = await asyncio.wait_for(late.studies.hold(study_id), timeout=2)
            assert held is not None
            with pytest.raises(DomainError) as raised:
                held.require_open()
            assert raised.value.code is ErrorCode.STUDY_CLOSED


async def test_the_database_keeps_purges_for_closed_studies(
    uow: SqlUnitOfWorkFactory, clock: PinnedClock
) -> None:
    """Even a bug in the application cannot mark an open study purged."""
    world = await build_world(uow)
    async with uow() as unit:
        study = await unit.studies.lock(world.study.id)
        assert study is not None
        with pytest.raises(IntegrityError, match="purged_after_closure"):
            await unit.studies.update(study.purged(clock.now() + timedelta(days=1)))
