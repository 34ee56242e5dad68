"""Submitted diary entries as staff and the app read them: lists, one entry, free text."""

from __future__ import annotations

import uuid

from domain import access
from domain.access import Permission, Scope
from domain.actors import RequestContext
from domain.diaries import DiaryEntry
from domain.ids import ParticipantId
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.services.participants import participant_scope


async def entries(
    *, uow: UnitOfWork, ctx: RequestContext, participant_id: ParticipantId, request: PageRequest
) -> Page[DiaryEntry]:
    async with uow:
        found = await uow.participants.get(participant_id)
        access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        return await uow.diaries.page(participant_id, request)


async def get_entry(*, uow: UnitOfWork, ctx: RequestContext, entry_id: uuid.UUID) -> DiaryEntry:
    async with uow:
        found = await uow.diaries.get(entry_id)
    return access.visible(ctx.actor, Permission.PARTICIPANT_READ, found, entry_scope, "Diary entry")


def entry_scope(entry: DiaryEntry) -> Scope:
    return Scope(entry.study_id, entry.site_id, entry.participant_id)


def free_text(ctx: RequestContext, entry: DiaryEntry) -> dict[str, str]:
    """Free-text answers are personal: the participant and their site staff only."""
    access.require(ctx.actor, Permission.IDENTIFIERS_READ, entry_scope(entry))
    return dict(entry.free_text)
