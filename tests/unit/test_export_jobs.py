"""Export jobs on fakes: queued with their work, attempts, retries, release, cancel, expiry."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from domain.actors import ANONYMOUS, RequestContext, Role
from domain.errors import DomainError, ErrorCode
from domain.exports import (
    RETRIES,
    RUN_EXPORT,
    ExportFile,
    ExportFormat,
    ExportJob,
    ExportResult,
    ExportStatus,
)
from domain.outbox import RetryLater, RetryPolicy
from domain.ports import ExportProgress
from domain.services import exports
from tests.factories import admin, caller, make_study, staff
from tests.fakes import FakeClock, FakeUnitOfWork

RESULT = ExportResult(7, "ab" * 32, (ExportFile("DM.csv", 3, 10, "cd" * 32),), "ef" * 32)


class Engine:
    """Writes nothing; fails, waits or succeeds as told, and remembers what it discarded."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.release = asyncio.Event()
        self.release.set()
        self.discarded: list[str] = []

    async def run(self, job: ExportJob, directory: str, progress: ExportProgress) -> ExportResult:
        await progress(1, 2)
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return RESULT

    async def discard(self, directory: str) -> None:
        self.discarded.append(directory)


async def _started(uow: FakeUnitOfWork, limit: int = 3) -> ExportJob:
    study = make_study()
    await uow.studies.add(study)
    return await exports.start(
        uow=uow(), ctx=caller(admin()), study_id=study.id, format=ExportFormat.SDTM, limit=limit
    )


async def _attempt(uow: FakeUnitOfWork, job: ExportJob, engine: Engine) -> ExportJob | None:
    return await exports.run(
        uows=uow, engine=engine, ctx=caller(), job_id=job.id, directory=f"x/{job.id}"
    )


async def test_a_request_is_queued_with_its_work_in_the_same_commit() -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    assert job.status is ExportStatus.QUEUED
    assert [(w.task, dict(w.args), w.key) for w in uow.enqueued] == [
        (RUN_EXPORT, {"export_id": str(job.id)}, f"export:{job.id}")
    ]
    assert [e.action for e in uow.events] == ["created"]


async def test_an_attempt_runs_the_job_to_done_and_audits_the_outcome() -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    engine = Engine()
    done = await _attempt(uow, job, engine)
    assert done is not None
    assert (done.status, done.attempts, done.log_position, done.progress()) == (
        ExportStatus.DONE,
        1,
        7,
        1.0,
    )
    assert engine.discarded == [f"x/{job.id}"]  # an interrupted attempt's leftovers go first
    assert [e.action for e in uow.events] == ["created", "completed"]
    assert await _attempt(uow, job, engine) is None  # delivered twice: nothing more happens


async def test_a_failed_attempt_is_queued_again_with_its_error_then_fails_for_good() -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    engine = Engine(OSError("disk full at /secret/path"))
    with pytest.raises(RetryLater) as later:
        await _attempt(uow, job, engine)
    waiting = await exports.get(uow=uow(), ctx=caller(admin()), job_id=job.id)
    assert waiting.status is ExportStatus.QUEUED
    assert waiting.retry_at == later.value.at == uow.clock.now() + RETRIES.first_delay
    assert waiting.error is not None
    assert waiting.error.startswith("Attempt 1 failed")
    assert "secret" not in waiting.error
    with pytest.raises(RetryLater):
        await _attempt(uow, job, engine)
    with pytest.raises(OSError, match="disk full"):  # the third and last attempt
        await _attempt(uow, job, engine)
    failed = await exports.get(uow=uow(), ctx=caller(admin()), job_id=job.id)
    assert (failed.status, failed.attempts, failed.retry_at) == (ExportStatus.FAILED, 3, None)
    assert [e.action for e in uow.events] == ["created", "failed"]  # attempts are not events


async def test_a_rule_that_says_no_is_not_tried_again() -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    refusal = DomainError(ErrorCode.VALIDATION_FAILED, "The export directory must be empty.")
    with pytest.raises(DomainError):
        await _attempt(uow, job, Engine(refusal))
    failed = await exports.get(uow=uow(), ctx=caller(admin()), job_id=job.id)
    assert (failed.status, failed.error) == (ExportStatus.FAILED, refusal.message)


async def test_a_stopping_worker_releases_the_attempt_to_the_queue() -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    engine = Engine()
    engine.release.clear()
    attempt = asyncio.create_task(_attempt(uow, job, engine))
    await asyncio.sleep(0.01)
    running = await exports.get(uow=uow(), ctx=caller(admin()), job_id=job.id)
    assert (running.status, running.attempts) == (ExportStatus.RUNNING, 1)
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt
    released = await exports.get(uow=uow(), ctx=caller(admin()), job_id=job.id)
    assert (released.status, released.attempts, released.error) == (ExportStatus.QUEUED, 0, None)


async def test_an_attempt_whose_worker_died_on_the_last_try_ends_the_job() -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    died = job
    for _ in range(RETRIES.attempts):  # started, and the worker never came back
        died = died.started(uow.clock.now())
    await uow.exports.update(died)
    assert await _attempt(uow, job, Engine()) is None
    failed = await exports.get(uow=uow(), ctx=caller(admin()), job_id=job.id)
    assert (failed.status, failed.error) == (ExportStatus.FAILED, exports.GAVE_UP)


async def test_cancel_a_queued_or_running_export_but_not_an_ended_one() -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    cancelled = await exports.cancel(uow=uow(), ctx=caller(admin()), job_id=job.id)
    assert cancelled.status is ExportStatus.CANCELLED
    assert uow.cancelled_work == [job.work_key]
    assert [e.action for e in uow.events] == ["created", "cancelled"]
    assert await _attempt(uow, job, Engine()) is None  # the worker finds nothing to do
    with pytest.raises(DomainError) as again:
        await exports.cancel(uow=uow(), ctx=caller(admin()), job_id=job.id)
    assert again.value.code is ErrorCode.INVALID_TRANSITION


async def test_cancelled_while_writing_keeps_no_files() -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    engine = Engine()
    engine.release.clear()
    attempt = asyncio.create_task(_attempt(uow, job, engine))
    await asyncio.sleep(0.01)
    await exports.cancel(uow=uow(), ctx=caller(admin()), job_id=job.id)
    engine.release.set()  # the writer finishes anyway (the abort arrived late)
    ended = await attempt
    assert ended is not None
    assert ended.status is ExportStatus.CANCELLED
    assert engine.discarded == [f"x/{job.id}", f"x/{job.id}"]  # before, and after


async def test_only_the_sponsor_side_may_cancel_and_others_learn_nothing() -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    for ctx, code in (
        (RequestContext(actor=ANONYMOUS), ErrorCode.UNAUTHENTICATED),
        (caller(staff(Role.COORDINATOR, job.study_id)), ErrorCode.NOT_FOUND),
    ):
        with pytest.raises(DomainError) as refused:
            await exports.cancel(uow=uow(), ctx=ctx, job_id=job.id)
        assert refused.value.code is code
    assert uow.cancelled_work == []


async def test_capacity_is_checked_only_after_authorization() -> None:
    """Issue 17: a full queue answered SERVER_BUSY to anyone, even signed out."""
    uow = FakeUnitOfWork()
    job = await _started(uow, limit=1)
    attempts = (
        (RequestContext(actor=ANONYMOUS), ErrorCode.UNAUTHENTICATED),
        (caller(staff(Role.COORDINATOR, job.study_id)), ErrorCode.FORBIDDEN),
        (caller(admin()), ErrorCode.SERVER_BUSY),
    )
    for ctx, code in attempts:
        with pytest.raises(DomainError) as refused:
            await exports.start(
                uow=uow(), ctx=ctx, study_id=job.study_id, format=ExportFormat.ODM, limit=1
            )
        assert refused.value.code is code
    await exports.cancel(uow=uow(), ctx=caller(admin()), job_id=job.id)
    again = await exports.start(
        uow=uow(), ctx=caller(admin()), study_id=job.study_id, format=ExportFormat.ODM, limit=1
    )
    assert again.status is ExportStatus.QUEUED


async def test_files_past_retention_are_deleted_once_each_audited(tmp_path: Path) -> None:
    uow = FakeUnitOfWork()
    job = await _started(uow)
    await _attempt(uow, job, Engine())
    engine = Engine()

    async def expire() -> list[ExportJob]:
        return await exports.expire(
            uows=uow,
            engine=engine,
            ctx=caller(),
            older_than=timedelta(days=30),
            directory=lambda i: str(tmp_path / str(i)),
        )

    uow.clock.advance(timedelta(days=29))
    assert await expire() == []
    uow.clock.advance(timedelta(days=2))
    (removed,) = await expire()
    assert removed.files_removed_at == uow.clock.now()
    assert engine.discarded == [str(tmp_path / str(job.id))]
    assert await expire() == []
    assert [e.action for e in uow.events][-1] == "files_deleted"
    assert [e.action for e in uow.events].count("files_deleted") == 1


def test_a_silent_running_job_reads_as_queued_again() -> None:
    job = ExportJob.request(
        study_id=make_study().id, format=ExportFormat.FHIR, requested_by=None, now=_t0()
    ).started(_t0())
    assert job.status_at(_t0() + timedelta(minutes=1)) is ExportStatus.RUNNING
    assert job.status_at(_t0() + timedelta(minutes=3)) is ExportStatus.QUEUED


def test_retry_delays_grow_and_are_capped() -> None:
    policy = RetryPolicy(
        attempts=6, first_delay=timedelta(seconds=30), max_delay=timedelta(minutes=1)
    )
    assert [policy.delay(n) for n in range(1, 7)] == [
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=1),
        timedelta(minutes=1),
        timedelta(minutes=1),
        None,
    ]


def _t0() -> datetime:
    return FakeClock().now()
