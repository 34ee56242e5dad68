"""The missed-diary task: each tick raises the deviations for diaries that can no longer be
answered (the unit of work's clock says which; tests move that clock)."""

from __future__ import annotations

import logging

from domain.actors import RequestContext
from domain.services import missed_diaries as cases
from infra.worker.services import WorkerServices

log = logging.getLogger("hearth.worker")


async def check(services: WorkerServices, ctx: RequestContext, *, timestamp: int) -> None:
    """Periodic: every open study's enrolled participants, one transaction each."""
    raised = await cases.check(uows=services.uows, ctx=ctx)
    if raised:
        log.info("missed diaries", extra={"event": f"raised={raised}"})  # a count, never who
