"""The procrastinate App: every registered job type as a task, retried as the domain says.

Tasks run as the worker's system actor; each job's id becomes the request id of the audit
events it causes, so the trail says which job did what.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from procrastinate import App, JobContext, PsycopgConnector
from procrastinate.job_context import AbortReason
from procrastinate.worker import Worker
from sqlalchemy.engine import make_url

from domain.actors import Origin, RequestContext, system_actor
from domain.outbox import RetryLater
from infra.worker.registry import JOB_TYPES, JobType
from infra.worker.retry import DomainRetry
from infra.worker.services import WorkerServices

WORKER_ACTOR = system_actor("worker")


class JobObserver(Protocol):
    """Told about every job the worker runs: logs and metrics hang off it."""

    def started(self, task: str, job_id: int) -> None: ...
    def finished(self, task: str, outcome: str, seconds: float) -> None: ...


def conninfo(url: str) -> str:
    """A libpq URL for procrastinate's psycopg pool, from our SQLAlchemy URL."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def build_app(url: str, services: WorkerServices, *, pool_size: int) -> App:
    connector = PsycopgConnector(
        conninfo=conninfo(url),
        min_size=1,
        max_size=pool_size,
        kwargs={"application_name": "hearth-worker"},
    )
    app = App(connector=connector)
    for job_type in JOB_TYPES.values():
        _register(app, services, job_type)
    return app


def _register(app: App, services: WorkerServices, job_type: JobType) -> None:
    task = app.task(
        name=job_type.name, queue=job_type.queue, retry=DomainRetry(), pass_context=True
    )
    if job_type.periodic is None:

        async def run(context: JobContext, /, **args: Any) -> None:
            await job_type.handle(services, job_context(context), args)

        task(run)
        return

    async def tick(context: JobContext, /, timestamp: int, **args: Any) -> None:
        await job_type.handle(services, job_context(context), {"timestamp": timestamp, **args})

    # The queueing lock keeps one waiting run at most: a busy worker never piles them up.
    app.periodic(cron=job_type.periodic, queueing_lock=job_type.name)(task(tick))


def job_context(context: JobContext) -> RequestContext:
    return RequestContext(actor=WORKER_ACTOR, origin=Origin(request_id=f"job-{context.job.id}"))


Middleware = Callable[[Callable[[], Awaitable[Any]], JobContext, Worker], Awaitable[Any]]


def observing(observer: JobObserver) -> Middleware:
    """A worker middleware that reports each job's start and outcome to `observer`."""

    async def middleware(
        call_next: Callable[[], Awaitable[Any]], context: JobContext, worker: Worker
    ) -> Any:
        task = context.job.task_name
        observer.started(task, context.job.id or 0)
        started, outcome = time.perf_counter(), "failed"
        try:
            result = await call_next()
            outcome = "succeeded"
            return result
        except RetryLater:
            outcome = "retried"
            raise
        except asyncio.CancelledError:
            shutdown = context.abort_reason() is AbortReason.SHUTDOWN
            outcome = "released" if shutdown else "cancelled"
            raise
        finally:
            observer.finished(task, outcome, time.perf_counter() - started)

    return middleware
