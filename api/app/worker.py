"""The job worker: procrastinate with Hearth's tasks, the background loops every worker runs
beside them (recovery, the audit log's integrator, metrics), and the reminder channels."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from api import logging as hearth_logging
from api import metrics as hearth_metrics
from api.app.configuration import ConfigurationError, server_url
from api.app.health import queue_reader
from api.app.runtime import Runtime, build_runtime
from api.metrics import Metrics
from api.settings import Settings
from domain.clock import Clock
from domain.notifications import Channel
from infra.db import migrations
from infra.notifications.email import EmailChannel, SmtpSettings
from infra.notifications.webpush import VapidSettings, WebPushChannel, generate_vapid_keys
from infra.worker.app import build_app, observing
from infra.worker.recovery import stalled_job_recovery
from infra.worker.runtime import Loop, WorkerOptions, WorkerRuntime, WorkerStopped
from infra.worker.services import WorkerServices
from infra.worker.webhooks import dispatch_loop as webhook_dispatch


class WorkerFailed(RuntimeError):
    """The job worker stopped without being asked to (its database went away, say)."""


@dataclass
class Worker:
    """One worker process's parts: the runtime its tasks use, the job worker, its metrics."""

    runtime: Runtime
    jobs: WorkerRuntime
    metrics: Metrics

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs and the background loops until `stop` is set, then close everything."""
        try:
            if not await migrations.at_head(self.runtime.engine):
                raise ConfigurationError(
                    "The database is not at the latest migration: run 'hearth migrate' "
                    "(or 'hearth serve', which migrates) first."
                )
            await self.runtime.bind_keys()  # a wrong key file: run nothing, sign nothing
            await self.jobs.run(stop)
        except WorkerStopped as stopped:
            raise WorkerFailed(str(stopped)) from stopped
        finally:
            await self.runtime.close()


def build_worker(
    settings: Settings, *, clock: Clock | None = None, concurrency: int | None = None
) -> Worker:
    """A worker on the app role's connection: procrastinate, our tasks, and the loops."""
    options = WorkerOptions(
        concurrency=concurrency or settings.worker_concurrency,
        shutdown_seconds=settings.worker_shutdown_seconds,
        heartbeat_seconds=settings.worker_heartbeat_seconds,
        stalled_seconds=settings.worker_stalled_seconds,
        poll_seconds=settings.worker_poll_seconds,
    )
    # Each running export holds a connection; progress and outcomes need a few more.
    pool = max(settings.db_pool_size, options.concurrency + 2)
    runtime = build_runtime(settings.model_copy(update={"db_pool_size": pool}), clock=clock)
    metrics = Metrics()
    services = WorkerServices(
        uows=runtime.services.uow,
        exports=runtime.export_engine,
        export_root=settings.export_path,
        export_retention=timedelta(days=settings.export_retention_days),
        webhook_outcomes=metrics.webhooks.observe,
        channels=reminder_channels(settings),
        alert_mail=reminder_channels(settings).get("email"),
        console_url=settings.console_url,
        webhook_allow_private=settings.webhook_allow_private,
    )
    queue = build_app(server_url(settings), services, pool_size=options.concurrency + 4)
    jobs = WorkerRuntime(queue, options, middleware=[observing(_JobObserver(metrics))])
    jobs.loops.extend(_worker_loops(settings, runtime, jobs, metrics))
    jobs.loops.append(webhook_dispatch(services, min(options.poll_seconds, 1.0)))
    return Worker(runtime=runtime, jobs=jobs, metrics=metrics)


def new_vapid_keys() -> tuple[str, str]:
    """(private, public) base64url: HEARTH_VAPID_PRIVATE_KEY and HEARTH_VAPID_PUBLIC_KEY."""
    return generate_vapid_keys()


def reminder_channels(settings: Settings) -> dict[str, Channel]:
    """The channels configured: Web Push with a VAPID key, e-mail with an SMTP host."""
    channels: dict[str, Channel] = {}
    if settings.vapid_private_key is not None:
        vapid = VapidSettings(settings.vapid_private_key.get_secret_value(), settings.vapid_subject)
        channels["webpush"] = WebPushChannel(vapid)
    if settings.smtp_host:
        password = settings.smtp_password
        smtp = SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            starttls=settings.smtp_starttls,
        )
        channels["email"] = EmailChannel(smtp)
    return channels


def _worker_loops(
    settings: Settings, runtime: Runtime, jobs: WorkerRuntime, metrics: Metrics
) -> list[Loop]:
    """The long-running loops every worker runs beside its jobs (see infra/worker/runtime.py);
    a new one (say, the event log's integrator) is added here."""
    options = jobs.options
    loops = [
        stalled_job_recovery(jobs.app, options.stalled_seconds, options.heartbeat_seconds),
        _integration(runtime),
    ]
    if settings.worker_metrics_port:
        read = queue_reader(runtime.engine, settings)
        host, port = settings.worker_metrics_host, settings.worker_metrics_port
        every = options.poll_seconds  # the queue's figures are as fresh as the worker's view
        loops.append(hearth_metrics.worker_metrics_loop(metrics, read, host, port, every))
    return loops


def _integration(runtime: Runtime) -> Loop:
    """The audit log's integrator: every worker runs one, an advisory lock elects the one that
    sequences and seals; the others wait to take over."""

    async def run(stop: asyncio.Event) -> None:
        await (await runtime.log.integrator()).run(stop)

    return run


class _JobObserver:
    """Every log line of a job carries its id as the request id; outcomes go to metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def started(self, task: str, job_id: int) -> None:
        hearth_logging.request_id_var.set(f"job-{job_id}")

    def finished(self, task: str, outcome: str, seconds: float) -> None:
        self.metrics.jobs.finished(task, outcome, seconds)
