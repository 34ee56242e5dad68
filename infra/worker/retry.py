"""When procrastinate tries a job again: when the job says so, or when its worker stopped.

The domain decides about failures (its `RetryPolicy`, recorded on the job it ran) and
raises `RetryLater` with the time; procrastinate only schedules what it was told. A job
cancelled because its worker is shutting down goes straight back to the queue.
"""

from __future__ import annotations

import asyncio

from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from domain.outbox import RetryLater


class DomainRetry(BaseRetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_at=exception.at)
        if isinstance(exception, asyncio.CancelledError):
            # Released by a stopping worker. (A job cancelled on request is marked failed by
            # procrastinate's retry function itself, since its abort was requested.)
            return RetryDecision()
        return None
