"""`hearth worker`: run the background jobs (exports, retention) until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from api import app
from api import logging as hearth_logging
from api.settings import Settings

log = logging.getLogger("hearth.worker")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "worker",
        help="Run one worker: the jobs the server queues (exports, retention).",
        description="Runs jobs from the queue in PostgreSQL until SIGINT or SIGTERM. On "
        "stop, running jobs get HEARTH_WORKER_SHUTDOWN_SECONDS to finish; the others go "
        "back to the queue. Logs JSON on stderr; /metrics on HEARTH_WORKER_METRICS_PORT.",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="Jobs run at once (default: HEARTH_WORKER_CONCURRENCY or 2).",
    )
    parser.add_argument(
        "--metrics-port", type=int, help="Port of /metrics (default 9464; 0: none)."
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    hearth_logging.configure(settings.log_level)
    if args.concurrency is not None and args.concurrency < 1:
        raise app.ConfigurationError("--concurrency must be at least 1.")
    if args.metrics_port is not None:
        settings = settings.model_copy(update={"worker_metrics_port": args.metrics_port})
    with app.database(settings, migrate=False) as ready:
        return asyncio.run(_run(ready, args.concurrency))


async def _run(settings: Settings, concurrency: int | None) -> int:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    worker = app.build_worker(settings, concurrency=concurrency)
    options = worker.jobs.options
    log.info("worker started", extra={"event": f"concurrency={options.concurrency}"})
    try:
        await worker.run(stop)
    except app.WorkerFailed:
        log.exception("worker stopped unexpectedly")
        return 1
    log.info("worker stopped")
    return 0


def _stop_on_signals(stop: asyncio.Event) -> None:
    """The first SIGINT or SIGTERM stops the worker cleanly; later ones change nothing."""
    loop = asyncio.get_running_loop()

    def requested(name: str) -> None:
        if stop.is_set():
            log.info("already stopping: running jobs finish or go back to the queue")
            return
        log.info("stop requested", extra={"event": name})
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, requested, sig.name)
