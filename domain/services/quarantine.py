"""Quarantined readings: the site lists them and accepts or rejects each one, with a reason.

A reading is quarantined when nobody held its device at the time it was taken (set up
before the assignment was recorded, in a gap, after it was handed back) or when it was taken
before the participant signed a newer consent version. Accepting makes it study data;
rejecting keeps it, flagged, out of every analysis. Both are audited with the reason.
"""

from __future__ import annotations

import uuid

from domain import access, audit
from domain.access import Permission
from domain.actors import RequestContext
from domain.devices import ReadingStatus, StoredReading
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ParticipantId, SiteId
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.services.readings import reading_scope
from domain.services.studies import require_open, site_scope


async def quarantined(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    site_id: SiteId,
    participant_id: ParticipantId | None = None,
    request: PageRequest,
) -> Page[StoredReading]:
    """The site's readings waiting for review (optionally one participant's), oldest first."""
    async with uow:
        found = await uow.sites.get(site_id)
        site = access.visible(ctx.actor, Permission.SITE_READ, found, site_scope, "Site")
        access.require(ctx.actor, Permission.PARTICIPANT_READ, site_scope(site))
        if participant_id is not None:
            person = await uow.participants.get(participant_id)
            if person is None or person.site_id != site.id:
                raise NotFound("Participant")
        return await uow.readings.quarantined(site.id, participant_id, request)


async def accept(
    *, uow: UnitOfWork, ctx: RequestContext, reading_id: uuid.UUID, reason: str
) -> StoredReading:
    """The reading is the participant's after all (e.g. the watch was set up minutes before
    the nurse recorded the assignment): it becomes study data."""
    return await _review(uow, ctx, reading_id, reason, ReadingStatus.ACCEPTED)


async def reject(
    *, uow: UnitOfWork, ctx: RequestContext, reading_id: uuid.UUID, reason: str
) -> StoredReading:
    """The reading is not the participant's data: kept, flagged, left out of analyses."""
    return await _review(uow, ctx, reading_id, reason, ReadingStatus.REJECTED)


async def _review(
    uow: UnitOfWork,
    ctx: RequestContext,
    reading_id: uuid.UUID,
    reason: str,
    status: ReadingStatus,
) -> StoredReading:
    why = audit.normalise_reason(reason)
    if why is None:
        raise DomainError(
            ErrorCode.REASON_REQUIRED, "Reviewing a reading needs a reason.", field="reason"
        )
    async with uow:
        found = await uow.readings.get(reading_id)
        reading = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, reading_scope, "Reading"
        )
        grant = access.require(ctx.actor, Permission.DATA_CORRECT, reading_scope(reading))
        await require_open(uow, reading.study_id)
        now = uow.clock.now()
        reviewed = reading.reviewed(status, reason=why, by=ctx.actor.id or reading.id, now=now)
        await uow.readings.update(reviewed)
        uow.record(
            audit.Change(
                entity_type=reading.ENTITY,
                entity_id=reading.id,
                action="accepted" if status is ReadingStatus.ACCEPTED else "rejected",
                fields=(
                    audit.FieldChange("status", reading.status.value, reviewed.status.value),
                    audit.FieldChange("reviewed_at", None, audit.to_json(now)),
                ),
                actor=ctx.actor,
                role=grant.role,
                origin=ctx.origin,
                subject=audit.Subject(reading.study_id, reading.site_id, reading.participant_id),
                reason=why,
            )
        )
        await uow.commit()
    return reviewed
