"""What the queue looks like from the database: depth and age by queue, live workers.

Both the server (readiness, /metrics) and the worker (/metrics) read these. Times are the
database's, like procrastinate's own heartbeats and schedules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.worker.registry import QUEUES


@dataclass(frozen=True)
class QueueStats:
    queue: str
    waiting: int  # ready to run now
    running: int
    oldest_seconds: float  # how long the oldest ready job has been waiting (0: none)


_STATS = text(
    """
    SELECT j.queue_name AS queue,
           count(*) FILTER (WHERE j.status = 'todo') AS waiting,
           count(*) FILTER (WHERE j.status = 'doing') AS running,
           coalesce(extract(epoch FROM now() - min(greatest(e.at, j.scheduled_at))
                    FILTER (WHERE j.status = 'todo')), 0) AS oldest
    FROM procrastinate_jobs j
    LEFT JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
    WHERE j.status IN ('todo', 'doing') AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
    GROUP BY j.queue_name
    """
)
_LIVE = text(
    "SELECT count(*) FROM procrastinate_workers "
    "WHERE last_heartbeat > now() - make_interval(secs => :seconds)"
)


async def queue_stats(engine: AsyncEngine) -> Sequence[QueueStats]:
    """Every known queue (empty ones too) and any other queue that holds jobs."""
    async with engine.connect() as connection:
        rows = {r.queue: r for r in await connection.execute(_STATS)}
    names = sorted(set(QUEUES) | set(rows))
    return [
        QueueStats(n, int(r.waiting), int(r.running), float(r.oldest))
        if (r := rows.get(n))
        else QueueStats(n, 0, 0, 0.0)
        for n in names
    ]


async def live_workers(engine: AsyncEngine, stalled_seconds: float) -> int:
    """Workers whose heartbeat is fresher than `stalled_seconds`."""
    async with engine.connect() as connection:
        result = await connection.execute(_LIVE, {"seconds": stalled_seconds})
        return int(result.scalar_one())
