"""Missed diaries on PostgreSQL: the periodic check raises one MISSED_ASSESSMENT deviation
per occurrence that can no longer be answered, audited as raised; running it again raises
nothing more."""

from __future__ import annotations

from domain.deviations import DeviationCategory, DeviationSeverity, DeviationSource
from domain.missed_diaries import OCCURRENCE
from domain.pagination import PageRequest
from domain.services import deviations, missed_diaries, trail
from domain.trail import TrailQuery
from infra.db.uow import SqlUnitOfWorkFactory
from tests.clock import PinnedClock
from tests.factories import admin, caller
from tests.world import add_diary, build_world

WORKER = caller()


async def test_checking_twice_raises_each_missed_diary_once(
    uow: SqlUnitOfWorkFactory, clock: PinnedClock
) -> None:
    world = await build_world(uow)
    await add_diary(uow, world)  # hourly, one-hour window and grace; two answered
    person = world.people[0].id
    assert await missed_diaries.check(uows=uow, ctx=WORKER, study_ids=[world.study.id]) == 0
    clock.advance(hours=5)
    first = await missed_diaries.check(uows=uow, ctx=WORKER, study_ids=[world.study.id])
    again = await missed_diaries.check(uows=uow, ctx=WORKER, study_ids=[world.study.id])
    # Enrolled at 09:30 UTC; due hourly from 10:00, each answerable (window and grace) for
    # two hours: at 14:30 those due at 10:00, 11:00 and 12:00 are gone.
    assert (first, again) == (3, 0)
    found = await deviations.of_participant(
        uow=uow(), ctx=caller(world.coordinator), participant_id=person
    )
    raised = [d for d in found if d.trigger is not None and d.trigger.record_type == OCCURRENCE]
    assert len(raised) == first == len({d.trigger for d in raised})
    assert {(d.category, d.severity, d.source) for d in raised} == {
        (DeviationCategory.MISSED_ASSESSMENT, DeviationSeverity.MINOR, DeviationSource.AUTOMATIC)
    }
    for d in raised:
        events = await trail.audit_trail(
            uow=uow(), ctx=caller(admin()), query=TrailQuery(entity_id=d.id), request=PageRequest()
        )
        assert [e.action for e in events.items] == ["raised"]
