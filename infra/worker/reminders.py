"""The reminder task: each tick claims the reminders now due and sends what is queued."""

from __future__ import annotations

import logging
from typing import cast

from domain.actors import RequestContext
from domain.services import reminders as cases
from domain.services.reminders import NotifyingUnitOfWork
from infra.worker.services import WorkerServices

log = logging.getLogger("hearth.worker")


async def send_reminders(services: WorkerServices, ctx: RequestContext, *, timestamp: int) -> None:
    """Periodic: the unit of work's clock says what is due (tests move that clock)."""
    report = await cases.send_due(
        uows=lambda: cast(NotifyingUnitOfWork, services.uows()), channels=services.channels
    )
    if report.claimed or report.sent or report.failed or report.retried:
        # Counts only: never who, never what.
        log.info(
            "reminders",
            extra={
                "event": f"claimed={report.claimed} sent={report.sent} "
                f"retried={report.retried} failed={report.failed}"
            },
        )
