"""The alert tasks: evaluate every study's rules (periodic); e-mail a site's staff."""

from __future__ import annotations

import uuid

from domain.actors import RequestContext
from domain.ids import SiteId
from domain.services import alerts as cases
from infra.worker.services import WorkerServices


async def evaluate(services: WorkerServices, ctx: RequestContext, *, timestamp: int) -> None:
    """Periodic: the unit of work's clock decides what is due (tests move that clock)."""
    await cases.evaluate(uows=services.uows, ctx=ctx)


async def notify_site(services: WorkerServices, ctx: RequestContext, *, site_id: str) -> None:
    if services.alert_mail is None:
        return  # no SMTP server configured: alerts are listed, not e-mailed
    await cases.notify_site(
        uows=services.uows,
        channel=services.alert_mail,
        site_id=SiteId(uuid.UUID(site_id)),
        console_url=services.console_url,
    )
