"""The webhook tasks and loop: one try at one delivery (signed, POSTed, logged, retried by
procrastinate when the domain says so), and the round that turns new events into them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import cast

from domain.actors import RequestContext
from domain.services import webhook_deliveries as cases
from domain.services.webhooks import WebhookUnitOfWorkFactory
from infra.webhooks.sender import Sender
from infra.worker.runtime import Loop
from infra.worker.services import WorkerServices

log = logging.getLogger("hearth.webhooks")


def _uows(services: WorkerServices) -> WebhookUnitOfWorkFactory:
    return cast(WebhookUnitOfWorkFactory, services.uows)


async def deliver_webhook(
    services: WorkerServices, ctx: RequestContext, *, delivery_id: str
) -> None:
    async with Sender(allow_private=services.webhook_allow_private) as sender:
        await cases.deliver(
            uows=_uows(services),
            sender=sender,
            ctx=ctx,
            delivery_id=uuid.UUID(delivery_id),
            observe=services.webhook_outcomes,
        )


def dispatch_loop(services: WorkerServices, every: float) -> Loop:
    """A worker loop: a dispatch round every `every` seconds (several workers may run it:
    each endpoint is locked by the round that takes it, skipped by the others)."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await cases.dispatch(uows=_uows(services))
            except Exception:
                log.exception("could not hand out webhook deliveries; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    return loop
