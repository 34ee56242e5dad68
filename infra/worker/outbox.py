"""The transactional outbox: work goes into procrastinate's queue inside our transaction.

The unit of work calls `defer` at commit, on its own session, through procrastinate's own
SQL function (`procrastinate_defer_jobs_v1`). The jobs are rows in the same transaction as
the change and its audit events: a rollback leaves no job, a commit leaves the job durable
before the process can die, and procrastinate's insert trigger NOTIFYs the workers, which
PostgreSQL delivers only once the transaction has committed. No relay is needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.outbox import Work
from infra.worker.registry import job_type

_DEFER = text(
    """
    SELECT unnest(procrastinate_defer_jobs_v1(ARRAY(
        SELECT ROW(j.queue, j.task, 0, j.lock, NULL, j.args, NULL)::procrastinate_job_to_defer_v1
        FROM unnest(
            CAST(:queues AS varchar[]), CAST(:tasks AS varchar[]),
            CAST(:locks AS text[]), CAST(:args AS jsonb[])
        ) WITH ORDINALITY AS j(queue, task, lock, args, n)
        ORDER BY j.n
    ))) AS id
    """
)
# Waiting jobs with the key are cancelled; running ones are asked to abort (the worker
# cancels the task when the NOTIFY arrives, i.e. once this transaction commits).
_CANCEL = text(
    """
    SELECT procrastinate_cancel_job_v1(id, true, false) AS id
    FROM procrastinate_jobs
    WHERE lock = :key AND status IN ('todo', 'doing')
    """
)


def check(work: Work) -> None:
    """Refuse work no job type handles, when it is enqueued rather than when it runs."""
    job_type(work.task)


async def defer(session: AsyncSession, works: Sequence[Work]) -> list[int]:
    """Queue the work in the session's transaction; the procrastinate job ids, in order."""
    if not works:
        return []
    rows = await session.execute(
        _DEFER,
        {
            "queues": [job_type(w.task).queue for w in works],
            "tasks": [w.task for w in works],
            "locks": [w.key for w in works],
            "args": [json.dumps(dict(w.args)) for w in works],
        },
    )
    return [int(r.id) for r in rows]


async def cancel(session: AsyncSession, key: str) -> None:
    await session.execute(_CANCEL, {"key": key})
