"""When procrastinate tries a job again: when the job says so, or when its worker stopped.

The domain decides about failures (its `RetryPolicy`, recorded on the job it ran) and
raises `RetryLater` with the time; procrastinate only schedules what it was told. A job
cancelled because its worker is shutting down goes straight back to the queue.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from domain.outbox import RetryLater

# "Now" for procrastinate: a time surely past in the database's clock. Left unset, it would be
# this process's clock, and a process whose clock runs ahead of the database would hold the
# job back by that much.
IMMEDIATELY = datetime(2000, 1, 1, tzinfo=UTC)


class DomainRetry(BaseRetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_at=exception.at)
        if isinstance(exception, asyncio.CancelledError):
            # Released by a stopping worker. (A job cancelled on request is marked failed by
            # procrastinate's retry function itself, since its abort was requested.)
            return RetryDecision(retry_at=IMMEDIATELY)
        return None
