"""The outbox on PostgreSQL: work is a procrastinate job in the change's own transaction.

Each step of a commit is made to fail in turn: nothing of the change, its events or its
work survives. (tests/e2e/test_worker_process.py kills a process right before and right
after commit, and has a worker deliver.)
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from domain.errors import DomainError
from domain.exports import ExportFormat, ExportJob
from domain.outbox import Work
from domain.services import exports, studies
from infra.db.uow import SqlUnitOfWorkFactory
from infra.eventlog.writer import EventLogWriter
from infra.worker import outbox
from infra.worker.registry import JOB_TYPES, UnknownTask
from tests.factories import admin, caller


async def _jobs(uow: SqlUnitOfWorkFactory, key: str | None = None) -> list[Any]:
    async with uow() as unit:
        rows = await unit.session.execute(
            text(
                "SELECT queue_name, task_name, lock, args, status, abort_requested "
                "FROM procrastinate_jobs WHERE CAST(:key AS text) IS NULL OR lock = :key"
            ),
            {"key": key},
        )
        return list(rows)


async def _start(uow: SqlUnitOfWorkFactory) -> ExportJob:
    study = await studies.create_study(uow=uow(), ctx=caller(admin()), code="OBX-1", title="T")
    return await exports.start(
        uow=uow(), ctx=caller(admin()), study_id=study.id, format=ExportFormat.ODM
    )


async def test_a_committed_request_is_a_waiting_job_with_ids_only(
    uow: SqlUnitOfWorkFactory,
) -> None:
    job = await _start(uow)
    (row,) = await _jobs(uow, job.work_key)
    assert (row.queue_name, row.task_name, row.status) == ("exports", "exports.run", "todo")
    assert row.args == {"export_id": str(job.id)}


async def test_work_without_a_commit_is_never_queued(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as unit:
        unit.enqueue(Work("exports.expire", {"timestamp": 1}, key="never"))
    async with uow() as unit:
        unit.enqueue(Work("exports.expire", {"timestamp": 2}, key="never"))
        await unit.rollback()
        await unit.commit()  # the rollback forgot it
    assert await _jobs(uow, "never") == []


@pytest.mark.parametrize("failing", ["the log's append", "the job insert"])
async def test_a_failing_step_of_the_commit_leaves_no_change_event_or_job(
    uow: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    study = await studies.create_study(uow=uow(), ctx=caller(admin()), code="OBX-2", title="T")
    before = len(await _jobs(uow))

    async def broken(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError(f"{failing} failed")

    if failing == "the job insert":
        monkeypatch.setattr(outbox, "defer", broken)
    else:
        monkeypatch.setattr(EventLogWriter, "append", broken)
    with pytest.raises(RuntimeError, match="failed"):
        await exports.start(
            uow=uow(), ctx=caller(admin()), study_id=study.id, format=ExportFormat.FHIR
        )
    monkeypatch.undo()
    assert len(await _jobs(uow)) == before
    async with uow() as unit:
        assert await unit.exports.of_study(study.id, 10) == []
        events = await unit.session.execute(
            text("SELECT count(*) FROM audit_events WHERE entity_type = 'ExportJob'")
        )
        assert events.scalar_one() == 0


def test_work_for_an_unknown_task_is_refused_when_enqueued() -> None:
    with pytest.raises(UnknownTask):
        outbox.check(Work("no.such.task"))


async def test_cancelling_work_cancels_a_waiting_job_in_the_same_transaction(
    uow: SqlUnitOfWorkFactory,
) -> None:
    job = await _start(uow)
    async with uow() as unit:
        await unit.cancel_work(job.work_key)  # rolled back: still waiting
    assert [r.status for r in await _jobs(uow, job.work_key)] == ["todo"]
    cancelled = await exports.cancel(uow=uow(), ctx=caller(admin()), job_id=job.id)
    (row,) = await _jobs(uow, job.work_key)
    assert (row.status, cancelled.status.value) == ("cancelled", "CANCELLED")
    with pytest.raises(DomainError):
        await exports.cancel(uow=uow(), ctx=caller(admin()), job_id=job.id)


def test_every_job_type_has_a_queue_and_a_name_the_domain_uses() -> None:
    assert set(JOB_TYPES) == {
        "exports.run",
        "exports.expire",
        "reminders.send",
        "webhooks.deliver",
        "alerts.evaluate",
        "alerts.notify_site",
        "my_data.build",
        "diaries.replan",
        "diaries.replan_study",
        "deviations.missed_diaries",
    }
    assert {t.queue for t in JOB_TYPES.values()} == {
        "alerts",
        "exports",
        "maintenance",
        "notifications",
        "webhooks",
    }
