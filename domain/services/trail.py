"""Use case for reading the audit trail, with personal values revealed only where allowed."""

from __future__ import annotations

import uuid

from domain import access
from domain.access import Permission, Scope
from domain.actors import Actor, RequestContext
from domain.ids import ParticipantId, SiteId, StudyId
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.trail import TrailEvent, TrailQuery


async def audit_trail(
    *, uow: UnitOfWork, ctx: RequestContext, query: TrailQuery, request: PageRequest
) -> Page[TrailEvent]:
    access.require_somewhere(ctx.actor, Permission.AUDIT_READ)
    visible = access.read_filter(ctx.actor, Permission.AUDIT_READ)
    async with uow:
        page = await uow.trail.page(query, visible, request)
        revealed = await uow.trail.reveal(
            page.items, lambda e, owner: may_reveal(ctx.actor, e, owner)
        )
    return page.with_items(revealed)


def may_reveal(actor: Actor, event: TrailEvent, owner: uuid.UUID) -> bool:
    """Personal values open for whoever may read that data subject's identifiers."""
    if event.participant_id is not None and owner == event.participant_id:
        scope = Scope(
            StudyId(event.study_id) if event.study_id else None,
            SiteId(event.site_id) if event.site_id else None,
            ParticipantId(event.participant_id),
        )
        return access.allows(actor, Permission.IDENTIFIERS_READ, scope)
    return access.allows(actor, Permission.USER_MANAGE)
