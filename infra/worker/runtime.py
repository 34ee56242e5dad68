"""One worker process: procrastinate's worker, and the background loops that run beside it.

`WorkerRuntime.loops` is the one place for long-running background work that is not a job
(recovering the jobs of dead workers, refreshing metrics; later e.g. the event log's
integrator): each is `async def loop(stop: asyncio.Event) -> None`, started with the
worker, and expected to return soon after `stop` is set. The composition root (api/app/worker.py,
`build_worker`) decides which loops a worker runs.

Stopping (SIGINT/SIGTERM, or `stop` set): no new job is fetched; running jobs get
`shutdown_seconds` to finish, then they are cancelled and released to the queue for another
attempt (`DomainRetry`); the loops are told to stop; the worker unregisters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from procrastinate import App

log = logging.getLogger("hearth.worker")

Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 1
    shutdown_seconds: float = 30.0
    heartbeat_seconds: float = 10.0
    stalled_seconds: float = 30.0  # a worker silent this long is gone; its jobs are retried
    poll_seconds: float = 5.0  # besides LISTEN/NOTIFY, look for due jobs this often


class WorkerStopped(RuntimeError):
    """procrastinate's worker ended without being asked to (e.g. its database was lost)."""


@dataclass
class WorkerRuntime:
    app: App
    options: WorkerOptions
    middleware: Sequence[Callable[..., Awaitable[object]]] = ()
    loops: list[Loop] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; then stop cleanly (see the module's docstring)."""
        async with self.app.open_async():
            worker = asyncio.create_task(self._work(), name="hearth-worker")
            loops = [asyncio.create_task(loop(stop)) for loop in self.loops]
            waiting = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({worker, waiting}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.set()
                ended_by_itself = worker.done() and not worker.cancelled()
                worker.cancel()  # procrastinate's own graceful shutdown
                try:
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
                finally:
                    await _finish(loops)
        if ended_by_itself:
            raise WorkerStopped("the job worker stopped unexpectedly")

    async def _work(self) -> None:
        options = self.options
        await self.app.run_worker_async(
            concurrency=options.concurrency,
            shutdown_graceful_timeout=options.shutdown_seconds,
            update_heartbeat_interval=options.heartbeat_seconds,
            stalled_worker_timeout=options.stalled_seconds,
            fetch_job_polling_interval=options.poll_seconds,
            abort_job_polling_interval=options.poll_seconds,
            install_signal_handlers=False,  # the process owns its signals (api/cli/worker.py)
            worker_middleware=list(self.middleware),
        )


async def _finish(loops: Sequence[asyncio.Task[None]]) -> None:
    outcomes = await asyncio.gather(*loops, return_exceptions=True)
    for loop, outcome in zip(loops, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            name = loop.get_name()
            log.error("a background loop failed", exc_info=outcome, extra={"event": name})
