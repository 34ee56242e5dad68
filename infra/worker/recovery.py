"""Jobs whose worker died (killed, out of memory, machine lost) go back to the queue.

procrastinate marks such jobs by their worker's stale heartbeat but leaves retrying them to
us. Every worker runs this loop; two doing it at once is harmless (the second retry of a
job finds it queued already and is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from procrastinate import App, exceptions

from infra.worker.retry import IMMEDIATELY
from infra.worker.runtime import Loop

log = logging.getLogger("hearth.worker")


async def retry_stalled(app: App, stalled_seconds: float) -> int:
    """Put the running jobs of workers silent for `stalled_seconds` back in the queue."""
    retried = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds):
        try:
            await app.job_manager.retry_job(job, retry_at=IMMEDIATELY)
        except exceptions.ConnectorException:
            continue  # another worker retried it first
        log.warning("job of a stopped worker queued again", extra={"event": job.task_name})
        retried += 1
    return retried


def stalled_job_recovery(app: App, stalled_seconds: float, every: float) -> Loop:
    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await retry_stalled(app, stalled_seconds)
            except Exception:
                log.exception("could not look for the jobs of stopped workers")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    return loop
