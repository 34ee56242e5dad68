"""Consent deviations against the real database: a diary entry and a batch of readings
collected after a new consent version, before the participant signed it, each raise one
CONSENT deviation in the transaction that stores them; a resend raises nothing more."""

from __future__ import annotations

from datetime import timedelta

from domain.consent import ConsentText
from domain.deviations import DeviationCategory, DeviationSource
from domain.services import consent, diaries, readings
from domain.services import deviations as deviation_cases
from infra.db.uow import SqlUnitOfWorkFactory
from tests.clock import PinnedClock
from tests.factories import admin, caller
from tests.world import add_diary, build_world
from tests.world_app import app_of, give_watch, heartbeat, open_entry


async def test_data_collected_under_a_consent_no_longer_current_raises_deviations_once(
    uow: SqlUnitOfWorkFactory, clock: PinnedClock
) -> None:
    world = await build_world(uow)
    me = app_of(world)
    await add_diary(uow, world)
    watch = await give_watch(uow, world, clock, days=1)
    entry = await open_entry(uow, world, clock.now() + timedelta(hours=1))
    await consent.publish_version(
        uow=uow(),
        ctx=caller(admin()),
        study_id=world.study.id,
        texts=(ConsentText("en", "Consent v2", "Now with home visits."),),
    )
    clock.advance(hours=1)
    (held,) = await diaries.submit(uow=uow(), ctx=me, submissions=[entry])
    reading = heartbeat(watch, clock.now())
    batch = await readings.ingest(uow=uow(), ctx=me, items=[reading])
    await diaries.submit(uow=uow(), ctx=me, submissions=[entry])  # resends
    await readings.ingest(uow=uow(), ctx=me, items=[reading])
    found = await deviation_cases.of_participant(
        uow=uow(), ctx=caller(world.coordinator), participant_id=world.people[0].id
    )
    raised = [(d.category, d.source, d.trigger) for d in found]
    assert [(c, s) for c, s, _ in raised] == [
        (DeviationCategory.CONSENT, DeviationSource.AUTOMATIC),
        (DeviationCategory.CONSENT, DeviationSource.AUTOMATIC),
    ]
    triggers = {(t.record_type, t.record_id) for _, _, t in raised if t is not None}
    assert triggers == {("DiaryEntry", held.client_id), ("ReadingBatch", batch.batch_id)}
