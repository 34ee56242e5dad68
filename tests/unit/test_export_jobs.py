"""Export jobs on fakes: lifecycle, audit, a silent job, and one export at a time per process."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from api.exports import ExportRunner
from domain.errors import DomainError, ErrorCode
from domain.exports import ExportFile, ExportFormat, ExportJob, ExportResult, ExportStatus
from domain.ports import ExportProgress
from domain.services import exports
from tests.factories import admin, caller, make_study
from tests.fakes import FakeClock, FakeUnitOfWork


class SlowEngine:
    """Writes nothing until released: an export that takes its time."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def run(self, job: ExportJob, directory: str, progress: ExportProgress) -> ExportResult:
        await progress(1, 2)
        await self.release.wait()
        return ExportResult(7, "ab" * 32, (ExportFile("DM.csv", 3, 10, "cd" * 32),), "ef" * 32)


class BrokenEngine:
    async def run(self, job: ExportJob, directory: str, progress: ExportProgress) -> ExportResult:
        raise OSError("disk full at /secret/path")


async def test_one_export_at_a_time_per_process_and_the_lifecycle_is_audited(
    tmp_path: Path,
) -> None:
    uow = FakeUnitOfWork()
    study = make_study()
    await uow.studies.add(study)
    engine = SlowEngine()
    runner = ExportRunner(engine, uow, tmp_path, "PEM", concurrency=1)
    ctx = caller(admin())
    job = await exports.start(uow=uow(), ctx=ctx, study_id=study.id, format=ExportFormat.SDTM)
    runner.ensure_room()
    runner.launch(ctx, job)
    await asyncio.sleep(0)
    with pytest.raises(DomainError) as raised:
        runner.ensure_room()
    assert raised.value.code is ErrorCode.SERVER_BUSY
    engine.release.set()
    for _ in range(100):
        if not runner.running:
            break
        await asyncio.sleep(0.01)
    runner.ensure_room()
    done = await exports.get(uow=uow(), ctx=ctx, job_id=job.id)
    assert (done.status, done.log_position, done.progress()) == (ExportStatus.DONE, 7, 1.0)
    assert [e.action for e in uow.events] == ["created", "completed"]


async def test_a_failed_export_says_so_without_internals(tmp_path: Path) -> None:
    uow = FakeUnitOfWork()
    study = make_study()
    await uow.studies.add(study)
    ctx = caller(admin())
    job = await exports.start(uow=uow(), ctx=ctx, study_id=study.id, format=ExportFormat.ODM)
    with pytest.raises(OSError, match="disk full"):
        await exports.run(uows=uow, engine=BrokenEngine(), ctx=ctx, job=job, directory="x")
    failed = await exports.get(uow=uow(), ctx=ctx, job_id=job.id)
    assert failed.status is ExportStatus.FAILED
    assert failed.error is not None
    assert "secret" not in failed.error
    with pytest.raises(DomainError):  # an ended job cannot end again
        failed.failed("again", failed.finished_at or failed.requested_at)


def test_a_silent_running_job_reads_as_failed() -> None:
    job = ExportJob.request(
        study_id=make_study().id, format=ExportFormat.FHIR, requested_by=None, now=_t0()
    )
    assert job.status_at(_t0() + timedelta(minutes=1)) is ExportStatus.RUNNING
    assert job.status_at(_t0() + timedelta(minutes=3)) is ExportStatus.FAILED


def _t0() -> datetime:
    return FakeClock().now()
