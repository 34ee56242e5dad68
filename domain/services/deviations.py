"""Use cases for protocol deviations: staff record, resolve and reclassify them; the writing
of a visit or a diary entry raises the automatic ones in its own transaction."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence

from domain import access, audit
from domain.access import Permission
from domain.actors import Grant, RequestContext
from domain.deviations import DeviationCategory, DeviationSeverity, ProtocolDeviation
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ParticipantId
from domain.ports import UnitOfWork
from domain.reason_codes import ReasonCode
from domain.services import reason_codes
from domain.services.participants import participant_scope

ENTITY = ProtocolDeviation.ENTITY
RAISED = "raised"  # the action of an automatic deviation in the log


def deviation_scope(d: ProtocolDeviation) -> access.Scope:
    return access.Scope(d.study_id, d.site_id, d.participant_id)


def _subject(d: ProtocolDeviation) -> audit.Subject:
    return audit.Subject(study_id=d.study_id, site_id=d.site_id, participant_id=d.participant_id)


async def raise_automatic(
    uow: UnitOfWork, ctx: RequestContext, grant: Grant, found: Iterable[ProtocolDeviation]
) -> list[ProtocolDeviation]:
    """Store what the data raised, once per trigger and category, in the caller's
    transaction (nothing is raised unless the triggering record commits); what was new."""
    stored = []
    for deviation in found:
        if await uow.deviations.raise_once(deviation):
            change = audit.created(ctx, grant, deviation, _subject(deviation))
            uow.record(dataclasses.replace(change, action=RAISED))
            stored.append(deviation)
    return stored


async def record(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    category: DeviationCategory,
    severity: DeviationSeverity,
    term: str,
    occurred_on: str | None,
) -> ProtocolDeviation:
    """Site staff record a deviation they found."""
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        grant = access.require(ctx.actor, Permission.DATA_PROXY, participant_scope(participant))
        deviation = ProtocolDeviation.recorded(
            study_id=participant.study_id,
            site_id=participant.site_id,
            participant_id=participant.id,
            category=category,
            severity=severity,
            term=term,
            occurred_on=occurred_on,
            by=_staff(ctx),
            now=uow.clock.now(),
        )
        await uow.deviations.add(deviation)
        uow.record(audit.created(ctx, grant, deviation, _subject(deviation)))
        await uow.commit()
    return deviation


async def _editable(
    uow: UnitOfWork, ctx: RequestContext, deviation_id: uuid.UUID, version: int
) -> tuple[ProtocolDeviation, Grant]:
    found = await uow.deviations.get(deviation_id)
    deviation = access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, deviation_scope, ENTITY
    )
    grant = access.require(ctx.actor, Permission.DATA_CORRECT, deviation_scope(deviation))
    if deviation.version != version:
        raise DomainError(
            ErrorCode.STALE_VERSION, "The deviation changed meanwhile; reload and retry."
        )
    return deviation, grant


async def resolve(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    deviation_id: uuid.UUID,
    version: int,
    resolution: str,
) -> ProtocolDeviation:
    async with uow:
        before, grant = await _editable(uow, ctx, deviation_id, version)
        after = before.resolved(resolution, _staff(ctx), uow.clock.now())
        return await _store(uow, ctx, grant, before, after, action="resolved")


async def reclassify(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    deviation_id: uuid.UUID,
    version: int,
    category: DeviationCategory,
    severity: DeviationSeverity,
    code: ReasonCode | str | None,
    reason: str | None,
) -> ProtocolDeviation:
    async with uow:
        before, grant = await _editable(uow, ctx, deviation_id, version)
        why = await reason_codes.required(uow, before.study_id, code)
        after = before.reclassified(category, severity, why)
        return await _store(uow, ctx, grant, before, after, action="reclassified", reason=reason)


async def get(
    *, uow: UnitOfWork, ctx: RequestContext, deviation_id: uuid.UUID
) -> ProtocolDeviation:
    async with uow:
        found = await uow.deviations.get(deviation_id)
    return access.visible(ctx.actor, Permission.PARTICIPANT_READ, found, deviation_scope, ENTITY)


async def of_participant(
    *, uow: UnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> Sequence[ProtocolDeviation]:
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        return await uow.deviations.of_participant(participant.id)


def _staff(ctx: RequestContext) -> uuid.UUID:
    if ctx.actor.id is None:  # pragma: no cover - the permission checks ruled this out
        raise NotFound("Staff user")
    return ctx.actor.id


async def _store(
    uow: UnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    before: ProtocolDeviation,
    after: ProtocolDeviation,
    *,
    action: str,
    reason: str | None = None,
) -> ProtocolDeviation:
    await uow.deviations.update(after)
    change = audit.updated(
        ctx, grant, before, after, _subject(before), action=action, reason=reason
    )
    if change is not None:
        if after.reason_code is not None and action == "reclassified":
            coded = tuple(f for f in change.fields if f.field != "reason_code")
            code = audit.FieldChange("reason_code", None, after.reason_code.value)
            change = dataclasses.replace(change, fields=(*coded, code))
        uow.record(change)
    await uow.commit()
    return after
