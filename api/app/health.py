"""What the server and the worker report about themselves: readiness (database, migrations,
keys, a live worker) and the job queue's figures for metrics."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api import metrics as hearth_metrics
from api.app.runtime import Runtime
from api.metrics import QueueFigures
from api.settings import Settings
from infra.db import migrations
from infra.worker import queues


async def readiness(runtime: Runtime) -> dict[str, bool]:
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return {"database": False, "migrations": False, "keys": False, "worker": False}
    at_head = await migrations.at_head(runtime.engine)
    try:  # the key file in use is still the one this installation is bound to
        keys = at_head and await runtime.log.keys_ready()
    except Exception:
        keys = False
    worker = at_head and await _worker(runtime.engine, runtime.settings)
    return {"database": True, "migrations": at_head, "keys": keys, "worker": worker}


async def _worker(engine: AsyncEngine, settings: Settings) -> bool:
    """Whether some worker's heartbeat is fresh: without one, jobs wait in the queue."""
    return await queues.live_workers(engine, settings.worker_stalled_seconds) > 0


def queue_reader(engine: AsyncEngine, settings: Settings) -> hearth_metrics.Refresh:
    async def read() -> tuple[Sequence[QueueFigures], int]:
        stats = await queues.queue_stats(engine)
        return stats, await queues.live_workers(engine, settings.worker_stalled_seconds)

    return read
