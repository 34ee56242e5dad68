"""Use case for reading the audit trail, with personal values revealed only where allowed."""

from __future__ import annotations

import dataclasses
import uuid

from domain import access
from domain.access import Permission, Scope
from domain.actors import Actor, RequestContext
from domain.ids import ParticipantId, SiteId, StudyId
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.trail import TrailEvent, TrailField, TrailQuery, TrailValue, ValueState

_WITHHELD = TrailValue(ValueState.WITHHELD)


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
    items = [withhold_plain_identifiers(ctx.actor, e) for e in revealed]
    return page.with_items(items)


def _scope(event: TrailEvent, *, with_participant: bool) -> Scope:
    participant = event.participant_id if with_participant else None
    return Scope(
        StudyId(event.study_id) if event.study_id else None,
        SiteId(event.site_id) if event.site_id else None,
        ParticipantId(participant) if participant else None,
    )


def may_reveal(actor: Actor, event: TrailEvent, owner: uuid.UUID) -> bool:
    """Personal values open for whoever may read that data subject's identifiers."""
    if event.participant_id is not None and owner == event.participant_id:
        scope = _scope(event, with_participant=True)
        return access.allows(actor, Permission.IDENTIFIERS_READ, scope)
    if owner == event.entity_id and event.study_id is not None:
        # Sealed with the object's own key (a device's serial): its site's identifier readers.
        scope = _scope(event, with_participant=False)
        return access.allows(actor, Permission.IDENTIFIERS_READ, scope)
    return access.allows(actor, Permission.USER_MANAGE)


def withhold_plain_identifiers(actor: Actor, event: TrailEvent) -> TrailEvent:
    """Identifiers logged in the clear by earlier versions (the log is append-only, so they
    stay there) follow the same field rule as the objects: withheld from those who may not
    read them, shown as personal values to those who may."""
    if not any(_plain_identifier(event, f) for f in event.fields):
        return event
    scope = _scope(event, with_participant=True)
    fields = tuple(
        _as_personal(f, access.may_read_field(actor, event.entity_type, f.field, scope))
        if _plain_identifier(event, f)
        else f
        for f in event.fields
    )
    return dataclasses.replace(event, fields=fields)


def _plain_identifier(event: TrailEvent, change: TrailField) -> bool:
    plain = ValueState.PLAIN in (change.old.state, change.new.state)
    return plain and access.field_permission(event.entity_type, change.field) is not None


def _as_personal(change: TrailField, allowed: bool) -> TrailField:
    def value(v: TrailValue) -> TrailValue:
        if v.state != ValueState.PLAIN or v.value is None:
            return v
        return TrailValue(ValueState.REVEALED, v.value) if allowed else _WITHHELD

    return dataclasses.replace(change, personal=True, old=value(change.old), new=value(change.new))
