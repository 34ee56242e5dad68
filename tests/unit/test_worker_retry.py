"""What procrastinate is told to do with a job that did not succeed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from procrastinate.jobs import Job

from domain.outbox import RetryLater
from infra.worker.retry import IMMEDIATELY, DomainRetry

JOB = Job(queue="exports", lock=None, queueing_lock=None, task_name="exports.run")


def test_the_domain_decides_when_and_a_released_job_is_due_in_any_clock() -> None:
    retry = DomainRetry()
    later = datetime(2030, 1, 1, tzinfo=UTC)
    decision = retry.get_retry_decision(exception=RetryLater(later), job=JOB)
    assert decision is not None
    assert decision.retry_at == later
    released = retry.get_retry_decision(exception=asyncio.CancelledError(), job=JOB)
    # Not "now" by this process's clock: one ahead of the database's would hold it back.
    assert released is not None
    assert released.retry_at == IMMEDIATELY
    assert retry.get_retry_decision(exception=OSError("disk full"), job=JOB) is None
