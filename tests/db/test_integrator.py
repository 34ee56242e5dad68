"""The integrator: sequences every log, seals checkpoint notes, publishes them, leads alone,
wakes on a notification, seals on shutdown and keeps its schedule across restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text

from domain.exports import ExportFormat
from domain.services import exports, studies
from infra.eventlog import integrator as integrator_module
from infra.eventlog import notes
from infra.eventlog.checkpoints import SignedCheckpoint
from infra.eventlog.integrator import LEADER_LOCK, Integrator
from infra.exports.engine import export_signing_key
from infra.exports.manifest import verify_export
from tests.clock import PinnedClock
from tests.conftest import Scratch
from tests.factories import admin, caller
from tests.world import World, build_world


async def _site(scratch: Scratch, world: World, code: str) -> None:
    await studies.create_site(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        study_id=world.study.id,
        code=code,
        name="Site",
        country="DE",
        timezone="Europe/Berlin",
    )


async def _scalar(scratch: Scratch, sql: str) -> object:
    async with scratch.runtime.engine.connect() as connection:
        return await connection.scalar(text(sql))


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    """Poll the database (nothing to wait on in this process) until `check` holds."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    pytest.fail("timed out")


async def _drained(scratch: Scratch) -> bool:
    return await _scalar(scratch, "SELECT count(*) FROM audit_pending") == 0


async def _integrator(scratch: Scratch, **options: object) -> Integrator:
    made = await scratch.runtime.log.integrator()
    for name, value in options.items():
        setattr(made, f"_{name}", value)
    return made


async def test_each_log_is_sequenced_sealed_and_published(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    assert await _scalar(scratch, "SELECT count(*) FROM audit_pending") == 8
    done = await scratch.runtime.log.integrate()
    assert done.sequenced == 8
    assert await _drained(scratch)
    (sealed,) = done.sealed  # build_world writes to its study's log only
    assert sealed.log_id == world.study.id
    assert sealed.tree_size == 8
    statuses = {s.log.id: s for s in await scratch.runtime.log.logs()}
    verifier = notes.Verifier.parse(statuses[world.study.id].verifier_key)
    assert sealed.note is not None
    assert notes.parse(sealed.note).verified_by(verifier)  # what any note verifier does
    (published,) = _published(scratch.settings.checkpoint_path)
    assert published.name == "8.checkpoint"
    assert published.read_text() == sealed.note
    assert SignedCheckpoint.parse(published.read_text()).root_hash == sealed.root_hash


async def test_a_second_integrator_waits_and_takes_over(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrator_module, "POLL_SECONDS", 0.1)
    world = await build_world(scratch.runtime.services.uow)
    first, second = await _integrator(scratch), await _integrator(scratch)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    leading = asyncio.create_task(first.run(stop_first))
    await _until(lambda: _drained(scratch))
    waiting = asyncio.create_task(second.run(stop_second))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    assert await _scalar(scratch, f"SELECT pg_try_advisory_lock({LEADER_LOCK})") is False
    stop_first.set()
    await leading
    await _site(scratch, world, "LATER")
    await _until(lambda: _drained(scratch))  # the second one leads now
    stop_second.set()
    await waiting


async def test_a_notification_wakes_it_without_waiting_for_the_poll(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(integrator_module, "POLL_SECONDS", 60.0)
    world = await build_world(scratch.runtime.services.uow)
    running = await _integrator(scratch)
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    await _until(lambda: _drained(scratch))
    await asyncio.sleep(0.2)  # idle now: the next look would be a minute away
    await _site(scratch, world, "WAKE")
    await _until(lambda: _drained(scratch), seconds=5)
    stop.set()
    await task


async def test_stopping_seals_whatever_is_left(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    running = await _integrator(scratch, seal_every=timedelta(hours=1))
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    await _until(lambda: _drained(scratch))
    await _site(scratch, world, "TAIL")
    await running.integrate_once()  # sequenced, but not due for sealing for an hour
    assert await _scalar(scratch, "SELECT max(tree_size) FROM audit_checkpoints") == 8
    stop.set()
    await task
    assert await _scalar(scratch, "SELECT max(tree_size) FROM audit_checkpoints") == 9


async def test_the_sealing_schedule_survives_a_restart(
    scratch: Scratch, clock: PinnedClock
) -> None:
    world = await build_world(scratch.runtime.services.uow)
    before = await _integrator(scratch)
    assert len((await before.integrate_once()).sealed) == 1
    await _site(scratch, world, "LATE")
    assert (await before.integrate_once()).sealed == []  # sealed a moment ago: not due yet
    clock.advance(seconds=2)
    after = await _integrator(scratch)  # a new process, knowing nothing
    (sealed,) = (await after.integrate_once()).sealed
    assert sealed.tree_size == 9


async def test_an_export_is_exactly_its_study_logs_first_events(
    scratch: Scratch, tmp_path: Path
) -> None:
    """Events not yet sequenced when the export starts are sequenced into its snapshot."""
    world = await build_world(scratch.runtime.services.uow)
    other = await build_world(scratch.runtime.services.uow)
    services = scratch.runtime.services
    job = await exports.start(
        uow=services.uow(), ctx=caller(admin()), study_id=world.study.id, format=ExportFormat.SDTM
    )
    done = await exports.run(
        uows=services.uow,
        engine=scratch.runtime.export_engine,
        ctx=caller(admin()),
        job_id=job.id,
        directory=str(tmp_path / "out"),
    )
    assert done is not None
    assert done.log_position == 9  # the 8 of build_world and the export's own "created"
    size = await _scalar(
        scratch, f"SELECT max(seq) FROM audit_chain WHERE log_id = '{world.study.id}'"
    )
    head = await _scalar(
        scratch,
        f"SELECT encode(hash, 'hex') FROM audit_chain WHERE log_id = '{world.study.id}' "
        f"AND seq = {done.log_position}",
    )
    assert size == done.log_position
    assert head == done.chain_head
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    installation = await scratch.runtime.log.installation()
    assert manifest["eventLog"] == {
        "log": f"hearth/{installation}/study/{world.study.id}",
        "position": 9,
        "chainHead": done.chain_head,
    }
    assert str(other.study.id) not in (tmp_path / "out" / "manifest.json").read_text()
    assert verify_export(tmp_path / "out", _export_key(scratch)).ok


def _published(directory: Path) -> list[Path]:
    return list(directory.rglob("*.checkpoint"))


def _export_key(scratch: Scratch) -> Ed25519PublicKey:
    return export_signing_key(scratch.runtime.keys).public_key()
