"""A real worker (procrastinate, in this process, on the pinned clock) on its own database:
retries, release on shutdown, retention, queue figures and job outcomes in /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from api.app import Worker, build_worker
from domain.alerts import EVALUATE as EVALUATE_ALERTS
from domain.exports import EXPIRE_EXPORTS, RETRIES, ExportFormat, ExportJob, ExportStatus
from domain.missed_diaries import CHECK as CHECK_MISSED_DIARIES
from domain.outbox import Work
from domain.pagination import PageRequest
from domain.services import exports, trail
from domain.trail import TrailQuery
from infra.db.engine import create_engine
from infra.worker import queues
from infra.worker.registry import SEND_REMINDERS
from tests.clock import CLOCK
from tests.conftest import Scratch
from tests.factories import admin, caller
from tests.world import World, build_world


@asynccontextmanager
async def _worker(scratch: Scratch, **overrides: Any) -> AsyncIterator[Worker]:
    values: dict[str, Any] = {
        "worker_metrics_port": 0,
        "worker_poll_seconds": 0.5,
        "worker_heartbeat_seconds": 1.0,
    }
    settings = scratch.settings.model_copy(update=values | overrides)
    worker = build_worker(settings, clock=CLOCK)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await task


async def _start(scratch: Scratch, world: World, format: ExportFormat) -> ExportJob:
    return await exports.start(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        study_id=world.study.id,
        format=format,
    )


async def _get(scratch: Scratch, job: ExportJob) -> ExportJob:
    return await exports.get(uow=scratch.runtime.services.uow(), ctx=caller(admin()), job_id=job.id)


async def _until(scratch: Scratch, job: ExportJob, done: Callable[[ExportJob], bool]) -> ExportJob:
    for _ in range(400):
        current = await _get(scratch, job)
        if done(current):
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"never got there: {current}")


async def _queue_row(scratch: Scratch, job: ExportJob) -> Any:
    async with scratch.runtime.engine.connect() as connection:
        result = await connection.execute(
            text("SELECT status, attempts, scheduled_at FROM procrastinate_jobs WHERE lock = :k"),
            {"k": job.work_key},
        )
        return result.one()


async def test_a_failed_attempt_waits_visibly_for_its_retry(
    scratch: Scratch, tmp_path: Path
) -> None:
    world = await build_world(scratch.runtime.services.uow)
    CLOCK.pin(datetime(2100, 1, 1, tzinfo=UTC))  # the retry is due then: it stays queued
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    job = await _start(scratch, world, ExportFormat.SDTM)
    async with _worker(scratch, export_dir=blocked / "exports"):
        waiting = await _until(scratch, job, lambda j: j.retry_at is not None)
    assert (waiting.status, waiting.attempts) == (ExportStatus.QUEUED, 1)
    assert waiting.retry_at == CLOCK.now() + RETRIES.first_delay
    assert waiting.error is not None
    assert waiting.error.startswith("Attempt 1 failed")
    assert str(tmp_path) not in waiting.error  # no internals for the requester
    row = await _queue_row(scratch, job)
    assert (row.status, row.attempts, row.scheduled_at) == ("todo", 1, waiting.retry_at)
    await exports.cancel(uow=scratch.runtime.services.uow(), ctx=caller(admin()), job_id=job.id)
    assert (await _queue_row(scratch, job)).status == "cancelled"


class _Held:
    """The participants table locked by the owner: a starting export blocks in its snapshot."""

    def __init__(self, scratch: Scratch) -> None:
        self.engine = create_engine(scratch.owner_url, pool_size=1)

    async def __aenter__(self) -> None:
        self.connection = await self.engine.connect()
        await self.connection.begin()
        await self.connection.execute(text("LOCK TABLE participants IN ACCESS EXCLUSIVE MODE"))

    async def __aexit__(self, *exc: object) -> None:
        await self.connection.rollback()
        await self.connection.close()
        await self.engine.dispose()


async def test_a_stopping_worker_releases_its_running_job_to_the_next_worker(
    scratch: Scratch,
) -> None:
    world = await build_world(scratch.runtime.services.uow)
    job = await _start(scratch, world, ExportFormat.ODM)
    async with _Held(scratch):
        async with _worker(scratch, worker_shutdown_seconds=0.2):
            running = await _until(scratch, job, lambda j: j.status is ExportStatus.RUNNING)
            assert running.attempts == 1
        released = await _get(scratch, job)  # the worker stopped while the export was blocked
        assert (released.status, released.attempts) == (ExportStatus.QUEUED, 0)
        assert (await _queue_row(scratch, job)).status == "todo"
    async with _worker(scratch) as second:
        done = await _until(scratch, job, lambda j: not j.unfinished)
        assert b'hearth_jobs_total{outcome="succeeded",task="exports.run"} 1.0' in (
            second.metrics.exposition()
        )
    assert (done.status, done.attempts) == (ExportStatus.DONE, 1)
    events = await trail.audit_trail(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        query=TrailQuery(entity_id=job.id),
        request=PageRequest(),
    )
    assert [e.action for e in events.items] == ["created", "completed"]  # once


async def _enqueue(scratch: Scratch, work: Work) -> None:
    async with scratch.runtime.services.uow() as uow:
        uow.enqueue(work)
        await uow.commit()


async def test_files_past_retention_are_deleted_by_the_periodic_job_and_audited(
    scratch: Scratch,
) -> None:
    world = await build_world(scratch.runtime.services.uow)
    job = await _start(scratch, world, ExportFormat.FHIR)
    directory = scratch.settings.export_path / str(job.id)
    async with _worker(scratch, export_retention_days=30) as worker:
        periodic = {
            t.task.name: t.cron for t in worker.jobs.app.periodic_registry.periodic_tasks.values()
        }
        assert periodic == {
            EXPIRE_EXPORTS: "*/15 * * * *",
            SEND_REMINDERS: "* * * * *",
            EVALUATE_ALERTS: "*/5 * * * *",
            CHECK_MISSED_DIARIES: "*/15 * * * *",
        }
        done = await _until(scratch, job, lambda j: j.status is ExportStatus.DONE)
        assert directory.is_dir()
        CLOCK.advance(days=29)  # not old enough yet: the tick deletes nothing
        await _enqueue(scratch, Work(EXPIRE_EXPORTS, {"timestamp": 1}))
        await _until_no_waiting(scratch)
        assert directory.is_dir()
        CLOCK.advance(days=2)
        await _enqueue(scratch, Work(EXPIRE_EXPORTS, {"timestamp": 2}))
        expired = await _until(scratch, job, lambda j: j.files_removed_at is not None)
    assert expired.files_removed_at == CLOCK.now()
    assert expired.files == done.files  # what was exported stays on record
    assert not directory.exists()
    events = await trail.audit_trail(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        query=TrailQuery(entity_id=job.id),
        request=PageRequest(),
    )
    assert [e.action for e in events.items] == ["created", "completed", "files_deleted"]


async def _until_no_waiting(scratch: Scratch) -> None:
    for _ in range(400):
        async with scratch.runtime.engine.connect() as connection:
            busy = await connection.execute(
                text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
            )
            if busy.scalar_one() == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("jobs never finished")


async def test_queue_figures_reach_metrics(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    await _start(scratch, world, ExportFormat.SDTM)
    worker = build_worker(scratch.settings, clock=CLOCK)
    read: Callable[[], Awaitable[Any]] = _reader(worker)
    await worker.metrics.refresh(read)
    text_ = worker.metrics.exposition().decode()
    assert 'hearth_job_queue_waiting{queue="exports"} 1.0' in text_
    assert 'hearth_job_queue_waiting{queue="maintenance"} 0.0' in text_
    assert "hearth_workers_live 0.0" in text_
    await worker.runtime.close()


def _reader(worker: Worker) -> Callable[[], Awaitable[Any]]:
    async def read() -> Any:
        engine = worker.runtime.engine
        return await queues.queue_stats(engine), await queues.live_workers(engine, 30)

    return read
