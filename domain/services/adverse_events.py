"""Use cases for adverse events: the participant reports, the site records, confirms and
corrects (with a reason code), and reports serious events to the sponsor in time."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain import access, audit
from domain.access import Permission
from domain.actors import Grant, RequestContext
from domain.adverse_events import AdverseEvent, AdverseEventDetails, AdverseEventRepository
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ParticipantId
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.ports.alerts import AlertRepository
from domain.reason_codes import ReasonCode
from domain.services import alerts, reason_codes
from domain.services.participants import participant_scope

SERIOUS = "serious"  # the action of the `adverse_event.serious` event in the log


class ClinicalUnitOfWork(UnitOfWork, Protocol):
    @property
    def adverse_events(self) -> AdverseEventRepository: ...
    @property
    def alerts(self) -> AlertRepository: ...


def event_scope(e: AdverseEvent) -> access.Scope:
    return access.Scope(e.study_id, e.site_id, e.participant_id)


def _subject(e: AdverseEvent) -> audit.Subject:
    return audit.Subject(study_id=e.study_id, site_id=e.site_id, participant_id=e.participant_id)


async def _participant(
    uow: ClinicalUnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> Participant:
    found = await uow.participants.get(participant_id)
    participant = access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
    )
    if not participant.is_active:
        raise DomainError(ErrorCode.PARTICIPANT_WITHDRAWN, "This participant no longer takes part.")
    return participant


async def report(
    *,
    uow: ClinicalUnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    description: str,
    onset: str | None,
    ongoing: bool,
) -> AdverseEvent:
    """The participant, from the app: what they felt in their words, since when, still on."""
    async with uow:
        participant = await _participant(uow, ctx, participant_id)
        grant = access.require(ctx.actor, Permission.DATA_SUBMIT, participant_scope(participant))
        event = AdverseEvent.reported_by_participant(
            study_id=participant.study_id,
            site_id=participant.site_id,
            participant_id=participant.id,
            description=description,
            onset=onset,
            ongoing=ongoing,
            now=uow.clock.now(),
        )
        await uow.adverse_events.add(event)
        uow.record(audit.created(ctx, grant, event, _subject(event)))
        await uow.commit()
    return event


async def record(
    *,
    uow: ClinicalUnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    details: AdverseEventDetails,
) -> AdverseEvent:
    """Site staff record an event they learnt of (at a visit, by phone)."""
    async with uow:
        participant = await _participant(uow, ctx, participant_id)
        grant = access.require(ctx.actor, Permission.DATA_PROXY, participant_scope(participant))
        event = AdverseEvent.recorded_by_site(
            study_id=participant.study_id,
            site_id=participant.site_id,
            participant_id=participant.id,
            details=details,
            by=_staff(ctx),
            now=uow.clock.now(),
        )
        await uow.adverse_events.add(event)
        uow.record(audit.created(ctx, grant, event, _subject(event)))
        await _clock_started(uow, ctx, grant, None, event)
        await uow.commit()
    return event


async def _editable(
    uow: ClinicalUnitOfWork, ctx: RequestContext, event_id: uuid.UUID
) -> tuple[AdverseEvent, Grant]:
    found = await uow.adverse_events.get(event_id)
    event = access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, event_scope, "AdverseEvent"
    )
    return event, access.require(ctx.actor, Permission.DATA_CORRECT, event_scope(event))


async def confirm(
    *,
    uow: ClinicalUnitOfWork,
    ctx: RequestContext,
    event_id: uuid.UUID,
    version: int,
    details: AdverseEventDetails,
) -> AdverseEvent:
    """The site confirms the participant's report, recording it in full."""
    async with uow:
        event, grant = await _editable(uow, ctx, event_id)
        _current(event, version)
        after = event.confirmed(details, _staff(ctx), uow.clock.now())
        return await _store(uow, ctx, grant, event, after, action="confirmed")


async def correct(
    *,
    uow: ClinicalUnitOfWork,
    ctx: RequestContext,
    event_id: uuid.UUID,
    version: int,
    details: AdverseEventDetails,
    code: ReasonCode | str | None,
    reason: str | None,
) -> AdverseEvent:
    """A new version of a recorded event, with a reason code (free text optional, sealed)."""
    async with uow:
        event, grant = await _editable(uow, ctx, event_id)
        _current(event, version)
        why = await reason_codes.required(uow, event.study_id, code)
        after = event.corrected(details, why, uow.clock.now())
        return await _store(uow, ctx, grant, event, after, action="corrected", reason=reason)


async def reported_to_sponsor(
    *,
    uow: ClinicalUnitOfWork,
    ctx: RequestContext,
    event_id: uuid.UUID,
    at: datetime | None,
) -> AdverseEvent:
    """Stop the reporting clock: the site sent the serious event to the sponsor."""
    async with uow:
        event, grant = await _editable(uow, ctx, event_id)
        now = uow.clock.now()
        after = event.sent_to_sponsor(at or now, now)
        return await _store(uow, ctx, grant, event, after, action="reported_to_sponsor")


async def get(*, uow: ClinicalUnitOfWork, ctx: RequestContext, event_id: uuid.UUID) -> AdverseEvent:
    async with uow:
        found = await uow.adverse_events.get(event_id)
    event = access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, event_scope, "AdverseEvent"
    )
    return _shown(ctx, event)


async def of_participant(
    *, uow: ClinicalUnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> Sequence[AdverseEvent]:
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        events = await uow.adverse_events.of_participant(participant.id)
    return [_shown(ctx, e) for e in events]


def _shown(ctx: RequestContext, event: AdverseEvent) -> AdverseEvent:
    """The participant's own words: their site staff and they only."""
    allowed = access.allows(ctx.actor, Permission.IDENTIFIERS_READ, event_scope(event))
    return event if allowed else event.withheld()


def _visible(ctx: RequestContext, found: AdverseEvent | None) -> AdverseEvent:
    return access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, event_scope, "AdverseEvent"
    )


def description(ctx: RequestContext, event: AdverseEvent) -> str | None:
    """The participant's own words: their site staff and they may read them."""
    access.require(ctx.actor, Permission.IDENTIFIERS_READ, event_scope(event))
    return event.description


def _current(event: AdverseEvent, version: int) -> None:
    if event.version != version:
        raise DomainError(
            ErrorCode.STALE_VERSION, "The adverse event changed meanwhile; reload and retry."
        )


def _staff(ctx: RequestContext) -> uuid.UUID:
    if ctx.actor.id is None:  # pragma: no cover - the permission checks ruled this out
        raise NotFound("Staff user")
    return ctx.actor.id


async def _clock_started(
    uow: ClinicalUnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    before: AdverseEvent | None,
    after: AdverseEvent,
) -> None:
    """`adverse_event.serious`: the event became serious, and its reporting clock started.
    The study's serious-event alert rule raises its site alert here, in the same transaction."""
    if after.report_due_at is None or (before is not None and before.report_due_at is not None):
        return
    uow.record(
        audit.Change(
            entity_type=AdverseEvent.ENTITY,
            entity_id=after.id,
            action=SERIOUS,
            fields=(
                audit.FieldChange("seriousness", None, audit.to_json(after.details.seriousness)),
                audit.FieldChange("report_due_at", None, audit.to_json(after.report_due_at)),
            ),
            actor=ctx.actor,
            role=grant.role,
            origin=ctx.origin,
            subject=_subject(after),
        )
    )
    await alerts.serious_reported(
        uow,
        ctx,
        grant,
        study_id=after.study_id,
        site_id=after.site_id,
        participant_id=after.participant_id,
        event_id=after.id,
    )


async def _store(
    uow: ClinicalUnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    before: AdverseEvent,
    after: AdverseEvent,
    *,
    action: str,
    reason: str | None = None,
) -> AdverseEvent:
    await uow.adverse_events.update(after)
    change = audit.updated(
        ctx, grant, before, after, _subject(before), action=action, reason=reason
    )
    if change is not None:
        if action == "corrected" and after.reason_code is not None:
            # The code goes with every correction, even when it repeats the previous one.
            coded = tuple(f for f in change.fields if f.field != "reason_code")
            code = audit.FieldChange("reason_code", None, after.reason_code.value)
            change = dataclasses.replace(change, fields=(*coded, code))
        uow.record(change)
    await _clock_started(uow, ctx, grant, before, after)
    await uow.commit()
    return _shown(ctx, after)
