"""Receipts of submissions and their inclusion proofs, authorized on the event's scope:
a participant asks about their own receipts, site staff about the sites they see."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain import access
from domain.access import Permission
from domain.actors import ActorKind, RequestContext
from domain.errors import NotFound, Unauthenticated
from domain.ports.receipts import Receipt, ReceiptLog


async def inclusion_proof(
    *, log: ReceiptLog, ctx: RequestContext, receipt: Receipt
) -> Mapping[str, Any]:
    if ctx.actor.kind is ActorKind.ANONYMOUS:
        raise Unauthenticated
    scope = await log.scope(receipt.event_id)
    # "Missing" and "not yours" answer alike: event ids cannot be probed.
    if scope is None or scope.participant_id is None:
        raise NotFound("Receipt")
    if not access.allows(ctx.actor, Permission.PARTICIPANT_READ, scope):
        raise NotFound("Receipt")
    return await log.evidence(receipt)


async def verifier_key(*, log: ReceiptLog, origin: str) -> str:
    """Public: anyone holding a receipt may check it, so anyone may have the key."""
    key = await log.verifier_key(origin)
    if key is None:
        raise NotFound("Log")
    return key
