"""`hearth worker` as a real process: a commit killed on either side, a worker killed
mid-export and another taking over, a clean stop on SIGTERM, JSON logs and /metrics."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from domain.exports import ExportFormat, ExportJob, ExportStatus
from domain.pagination import PageRequest
from domain.services import exports, trail
from domain.trail import TrailQuery
from infra.db.engine import create_engine
from tests.conftest import ROOT, Scratch
from tests.factories import admin, caller
from tests.world import World, build_world


@pytest.fixture
async def world(scratch: Scratch) -> World:
    return await build_world(scratch.runtime.services.uow)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(scratch: Scratch, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEARTH_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=scratch.owner_url,
        HEARTH_KEY_FILE=str(scratch.settings.key_path),
        HEARTH_EXPORT_DIR=str(scratch.settings.export_path),
        HEARTH_DATA_DIR=str(tmp_path / "data"),
        HEARTH_ENV="test",
        HEARTH_WORKER_HEARTBEAT_SECONDS="0.5",
        HEARTH_WORKER_STALLED_SECONDS="2",
        HEARTH_WORKER_POLL_SECONDS="0.5",
        HEARTH_WORKER_SHUTDOWN_SECONDS="1",
        HEARTH_WORKER_METRICS_PORT="0",
    )
    env.update(extra)
    return env


@contextmanager
def _worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli.main", "worker"], cwd=ROOT, env=env, stderr=sink
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


async def _get(scratch: Scratch, job_id: Any) -> ExportJob:
    return await exports.get(uow=scratch.runtime.services.uow(), ctx=caller(admin()), job_id=job_id)


async def _until(scratch: Scratch, job_id: Any, status: ExportStatus) -> ExportJob:
    for _ in range(600):
        job = await _get(scratch, job_id)
        if job.status is status:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"the export never became {status}: {job}")


async def _rows(scratch: Scratch, sql: str, **params: Any) -> list[Any]:
    async with scratch.runtime.engine.connect() as connection:
        return list(await connection.execute(text(sql), params))


async def _actions(scratch: Scratch, job_id: Any) -> list[str]:
    events = await trail.audit_trail(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        query=TrailQuery(entity_id=job_id),
        request=PageRequest(),
    )
    return [e.action for e in events.items]


def _killed_commit(env: dict[str, str], world: World, moment: str) -> int:
    command = [sys.executable, "-m", "tests.processes.killed_commit", str(world.study.id), moment]
    return subprocess.run(command, cwd=ROOT, env=env, check=False, timeout=120).returncode


async def test_a_commit_killed_before_it_happens_leaves_nothing(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    code = await asyncio.to_thread(_killed_commit, _environment(scratch, tmp_path), world, "before")
    assert code == -signal.SIGKILL
    async with scratch.runtime.services.uow() as uow:
        assert await uow.exports.of_study(world.study.id, 10) == []
    assert await _rows(scratch, "SELECT id FROM procrastinate_jobs") == []


async def test_a_commit_killed_right_after_is_delivered_exactly_once(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    env = _environment(scratch, tmp_path)
    assert await asyncio.to_thread(_killed_commit, env, world, "after") == -signal.SIGKILL
    async with scratch.runtime.services.uow() as uow:
        (job,) = await uow.exports.of_study(world.study.id, 10)
    assert job.status is ExportStatus.QUEUED
    with _worker(env, tmp_path / "worker.log"):
        done = await _until(scratch, job.id, ExportStatus.DONE)
        # The export is DONE as its task returns; the queue records the job's end just after.
        for _ in range(200):
            (row,) = await _rows(
                scratch,
                "SELECT j.status, count(e.id) AS starts FROM procrastinate_jobs j LEFT JOIN "
                "procrastinate_events e ON e.job_id = j.id AND e.type = 'started' "
                "WHERE j.lock = :k GROUP BY j.status",
                k=job.work_key,
            )
            if row.status != "doing":
                break
            await asyncio.sleep(0.05)
    assert done.attempts == 1
    assert await _actions(scratch, job.id) == ["created", "completed"]
    assert (row.status, row.starts) == ("succeeded", 1)
    assert (scratch.settings.export_path / str(job.id) / "manifest.json").is_file()


@asynccontextmanager
async def _signatures_locked(scratch: Scratch) -> AsyncIterator[None]:
    """An export started meanwhile blocks in its snapshot: it stays RUNNING. (Not the
    participants table: the worker's own replanning reads it.)"""
    engine = create_engine(scratch.owner_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.begin()
            await connection.execute(text("LOCK TABLE signatures IN ACCESS EXCLUSIVE MODE"))
            yield
            await connection.rollback()
    finally:
        await engine.dispose()


async def _start(scratch: Scratch, world: World) -> ExportJob:
    return await exports.start(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        study_id=world.study.id,
        format=ExportFormat.ODM,
    )


async def test_a_job_survives_its_worker_being_killed_and_the_next_worker_finishes_it(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    env = _environment(scratch, tmp_path)
    job = await _start(scratch, world)
    async with _signatures_locked(scratch):
        with _worker(env, tmp_path / "first.log") as first:
            await _until(scratch, job.id, ExportStatus.RUNNING)
            first.send_signal(signal.SIGKILL)
            first.wait()
    with _worker(env, tmp_path / "second.log"):
        done = await _until(scratch, job.id, ExportStatus.DONE)
    assert done.attempts == 2  # the killed attempt counts; it left nothing behind
    assert await _actions(scratch, job.id) == ["created", "completed"]
    logs = (tmp_path / "second.log").read_text()
    assert "job of a stopped worker queued again" in logs


async def test_sigterm_stops_cleanly_and_releases_the_running_job(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    port = _free_port()
    env = _environment(scratch, tmp_path, HEARTH_WORKER_METRICS_PORT=str(port))
    job = await _start(scratch, world)
    log = tmp_path / "worker.log"
    async with _signatures_locked(scratch):
        with _worker(env, log) as worker:
            await _until(scratch, job.id, ExportStatus.RUNNING)
            assert 'hearth_job_queue_running{queue="exports"} 1.0' in await _scrape(port)
            worker.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(worker.wait, 30)
    assert code == 0
    released = await _get(scratch, job.id)
    assert (released.status, released.attempts) == (ExportStatus.QUEUED, 0)
    (row,) = await _rows(
        scratch, "SELECT status FROM procrastinate_jobs WHERE lock = :k", k=job.work_key
    )
    assert row.status == "todo"
    assert await _rows(scratch, "SELECT id FROM procrastinate_workers") == []  # unregistered
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    messages = [line["msg"] for line in lines]
    assert "stop requested" in messages
    assert messages[-1] == "worker stopped"
    assert all(line["level"] in ("DEBUG", "INFO", "WARNING") for line in lines), lines


async def _scrape(port: int) -> str:
    """The worker's /metrics once it has read the queue since the job started."""
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            scraped = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            if 'hearth_job_queue_running{queue="exports"} 1.0' in scraped:
                break
            await asyncio.sleep(0.1)
    return scraped
