"""The export tasks: write one export's files; delete files past the retention period."""

from __future__ import annotations

import uuid

from domain.actors import RequestContext
from domain.services import exports as cases
from infra.worker.services import WorkerServices


async def run_export(services: WorkerServices, ctx: RequestContext, *, export_id: str) -> None:
    await cases.run(
        uows=services.uows,
        engine=services.exports,
        ctx=ctx,
        job_id=uuid.UUID(export_id),
        directory=services.export_directory(export_id),
    )


async def expire_exports(services: WorkerServices, ctx: RequestContext, *, timestamp: int) -> None:
    """Periodic: `timestamp` is the tick it was deferred for; the unit of work's clock decides
    what is old enough (tests move that clock instead of waiting)."""
    await cases.expire(
        uows=services.uows,
        engine=services.exports,
        ctx=ctx,
        older_than=services.export_retention,
        directory=services.export_directory,
    )
