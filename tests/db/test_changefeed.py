"""The change feed on real PostgreSQL: a committed change reaches a listening hub; a
rolled-back one emits nothing; listeners only hear their own sites; payloads are ids only."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from domain.actors import Origin, Role
from domain.audit import Change, FieldChange, Subject
from infra.changefeed import notify
from infra.changefeed.hub import ChangeHub
from infra.changefeed.notify import ChangeNotice
from infra.db.uow import SqlUnitOfWorkFactory
from tests.conftest import ScratchDatabase
from tests.factories import admin


def _change(entity: str, site: uuid.UUID | None) -> Change:
    return Change(
        entity_type=entity,
        entity_id=uuid.uuid4(),
        action="updated",
        fields=(FieldChange("note", None, "private words", personal=True),),
        actor=admin(),
        role=Role.ADMIN,
        origin=Origin(),
        subject=Subject(study_id=uuid.uuid4(), site_id=site),
    )


async def _next(agen: AsyncIterator[ChangeNotice], within: float = 2.0) -> ChangeNotice:
    return await asyncio.wait_for(anext(agen), within)


async def test_commit_notifies_rollback_does_not(
    database: ScratchDatabase, app_engine: AsyncEngine
) -> None:
    hub = ChangeHub(database.app_url)
    await hub.start()
    site = uuid.uuid4()
    stream = hub.listen([site])
    waiting = asyncio.ensure_future(_next(stream))
    await asyncio.sleep(0)
    sessions = async_sessionmaker(app_engine)
    rolled_back, committed = _change("DiaryEntry", site), _change("Visit", site)
    try:
        async with sessions() as session:
            assert await notify.emit(session, [rolled_back]) == 1
            await session.rollback()
        async with sessions() as session:
            await notify.emit(session, [committed, _change("StaffUser", site)])
            await session.commit()
        notice = await waiting
        assert (notice.kind, notice.record_id, notice.site_id) == (
            "visit",
            committed.entity_id,
            site,
        )
        assert "private" not in notice.to_payload()
        # Nothing else was waiting: the rolled-back change never arrived.
        assert hub.listeners == 1
        await asyncio.sleep(0.2)
        nothing = asyncio.ensure_future(_next(stream, within=0.3))
        try:
            await nothing
            raise AssertionError("a rolled-back change was delivered")
        except TimeoutError:
            pass
    finally:
        await stream.aclose()
        await hub.stop()


async def test_listeners_hear_only_their_sites(
    database: ScratchDatabase, app_engine: AsyncEngine
) -> None:
    hub = ChangeHub(database.app_url)
    await hub.start()
    mine, other = uuid.uuid4(), uuid.uuid4()
    stream = hub.listen([mine])
    waiting = asyncio.ensure_future(_next(stream))
    await asyncio.sleep(0)
    sessions = async_sessionmaker(app_engine)
    theirs, ours = _change("DataQuery", other), _change("DataQuery", mine)
    try:
        async with sessions() as session:
            await notify.emit(session, [theirs])
            await session.commit()
        async with sessions() as session:
            await notify.emit(session, [ours])
            await session.commit()
        assert (await waiting).record_id == ours.entity_id
    finally:
        await stream.aclose()
        await hub.stop()


async def test_the_hub_reconnects_after_losing_its_connection(
    database: ScratchDatabase, app_engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    from sqlalchemy import text

    hub = ChangeHub(database.app_url)
    await hub.start()
    async with owner_engine.connect() as owner:
        await owner.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        )
    site = uuid.uuid4()
    stream = hub.listen([site])
    received: asyncio.Queue[ChangeNotice] = asyncio.Queue()

    async def collect() -> None:
        async for notice in stream:
            await received.put(notice)

    collector = asyncio.create_task(collect())
    try:
        sent = _change("ExportJob", site)
        sessions = async_sessionmaker(app_engine)
        for _ in range(50):  # until the hub is listening again
            async with sessions() as session:
                await notify.emit(session, [sent])
                await session.commit()
            try:
                notice = await asyncio.wait_for(received.get(), 0.2)
                assert notice.record_id == sent.entity_id
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the hub never reconnected")
    finally:
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)
        await stream.aclose()
        await hub.stop()


async def test_the_unit_of_work_notifies_at_commit_and_never_on_rollback(
    database: ScratchDatabase, committing_uow: SqlUnitOfWorkFactory
) -> None:
    hub = ChangeHub(database.app_url)
    await hub.start()
    stream = hub.listen(None)
    waiting = asyncio.ensure_future(_next(stream, within=5.0))
    await asyncio.sleep(0)
    forgotten, kept = _change("Visit", None), _change("Visit", None)
    plain = (FieldChange("status", "planned", "done"),)
    forgotten = dataclasses.replace(forgotten, subject=Subject(), fields=plain)
    kept = dataclasses.replace(kept, subject=Subject(), fields=plain)
    try:
        async with committing_uow() as unit:
            unit.record(forgotten)
            await unit.rollback()
        async with committing_uow() as unit:
            unit.record(kept)
            await unit.commit()
        assert (await waiting).record_id == kept.entity_id
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await stream.aclose()
        await hub.stop()
