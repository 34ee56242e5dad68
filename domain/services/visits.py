"""Use cases for remote visits: schedule, reschedule, cancel, complete, list."""

from __future__ import annotations

import uuid
from datetime import datetime

from domain import access, audit
from domain.access import Permission
from domain.actors import Actor, ActorKind, Grant, RequestContext
from domain.design import ContactMode, VisitDefinition
from domain.deviations import from_visit
from domain.errors import DomainError, ErrorCode, Invalid, NotFound
from domain.ids import ParticipantId, UserId, VisitDefinitionId, VisitId
from domain.pagination import Page, PageRequest
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.reason_codes import ReasonCode, coded
from domain.records import VisitFilter
from domain.services import reason_codes
from domain.services.deviations import raise_automatic
from domain.services.participants import participant_scope
from domain.visits import UNCHANGED, Unchanged, Visit, VisitOutcome


def _subject(v: Visit) -> audit.Subject:
    return audit.Subject(study_id=v.study_id, site_id=v.site_id, participant_id=v.participant_id)


def visit_scope(v: Visit) -> access.Scope:
    return access.Scope(v.study_id, v.site_id, v.participant_id)


async def _definition(
    uow: UnitOfWork, participant: Participant, definition_id: VisitDefinitionId
) -> VisitDefinition:
    definition = await uow.design.visit_definition(definition_id)
    if definition is None or definition.study_id != participant.study_id:
        raise NotFound("Visit definition")
    return definition


async def _assignee(
    uow: UnitOfWork, assignee_id: uuid.UUID | None, scope: access.Scope
) -> uuid.UUID | None:
    """Visits are run by the participant's site staff: someone who manages visits there and
    may know who the participant is."""
    if assignee_id is None:
        return None
    user = await uow.users.get(UserId(assignee_id))
    runs_visits = (
        user is not None
        and user.is_active
        and all(
            access.allows(Actor(ActorKind.STAFF, user.id, user.grants), p, scope)
            for p in (Permission.VISIT_MANAGE, Permission.IDENTIFIERS_READ)
        )
    )
    if not runs_visits:
        raise Invalid(
            "assignee_id", "Assign a coordinator or investigator of the participant's site."
        )
    return assignee_id


async def schedule(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    definition_id: VisitDefinitionId,
    mode: ContactMode,
    local_start: datetime,
    duration_minutes: int = 30,
    assignee_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> Visit:
    """Schedule in the participant's local time; a date outside the window is allowed, flagged.

    A time in the past (a visit recorded afterwards) needs a reason; see `check_start`."""
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        grant = access.require(ctx.actor, Permission.VISIT_MANAGE, participant_scope(participant))
        if not participant.is_active:
            raise DomainError(
                ErrorCode.PARTICIPANT_WITHDRAWN, "This participant no longer takes part."
            )
        definition = await _definition(uow, participant, definition_id)
        why = audit.normalise_reason(reason)
        visit = Visit.schedule(
            participant=participant,
            definition=definition,
            mode=mode,
            local_start=local_start,
            duration_minutes=duration_minutes,
            assignee_id=await _assignee(uow, assignee_id, participant_scope(participant)),
            now=uow.clock.now(),
            reason=why,
        )
        await uow.visits.add(visit)
        uow.record(audit.created(ctx, grant, visit, _subject(visit), reason=why))
        await uow.commit()
    return visit


async def _managed(uow: UnitOfWork, ctx: RequestContext, visit_id: VisitId) -> tuple[Visit, Grant]:
    found = await uow.visits.get(visit_id)
    visit = access.visible(ctx.actor, Permission.PARTICIPANT_READ, found, visit_scope, "Visit")
    return visit, access.require(ctx.actor, Permission.VISIT_MANAGE, visit_scope(visit))


async def reschedule(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    visit_id: VisitId,
    local_start: datetime,
    reason: str,
    assignee_id: uuid.UUID | Unchanged | None = UNCHANGED,
    code: ReasonCode | str | None = None,
) -> Visit:
    """Move a visit, with a reason. The assignee stays unless `assignee_id` is given (None
    removes them)."""
    async with uow:
        visit, grant = await _managed(uow, ctx, visit_id)
        why = _required(reason)
        definition = await uow.design.visit_definition(visit.definition_id)
        participant = await uow.participants.get(visit.participant_id)
        if definition is None or participant is None:
            raise NotFound("Visit definition")
        if not isinstance(assignee_id, Unchanged):
            assignee_id = await _assignee(uow, assignee_id, visit_scope(visit))
        moved = visit.rescheduled(
            definition=definition,
            participant=participant,
            local_start=local_start,
            assignee_id=assignee_id,
            now=uow.clock.now(),
            reason=why,
        )
        return await _store(
            uow,
            ctx,
            grant,
            before=visit,
            after=moved,
            action="rescheduled",
            reason=why,
            code=await reason_codes.or_other(uow, visit.study_id, code),
        )


async def cancel(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    visit_id: VisitId,
    reason: str,
    code: ReasonCode | str | None = None,
) -> Visit:
    """A status change, with a reason and its code (OTHER when only the text is sent)."""
    async with uow:
        visit, grant = await _managed(uow, ctx, visit_id)
        why_code = await reason_codes.or_other(uow, visit.study_id, code)
        return await _store(
            uow,
            ctx,
            grant,
            before=visit,
            after=visit.cancelled(),
            action="cancelled",
            reason=_required(reason),
            code=why_code,
        )


async def complete(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    visit_id: VisitId,
    outcome: VisitOutcome,
    notes: str | None,
) -> Visit:
    async with uow:
        visit, grant = await _managed(uow, ctx, visit_id)
        done = visit.completed(outcome, notes, uow.clock.now())
        return await _store(
            uow, ctx, grant, before=visit, after=done, action="completed", reason=None
        )


def _required(reason: str) -> str:
    why = audit.normalise_reason(reason)
    if why is None:
        raise DomainError(ErrorCode.REASON_REQUIRED, "Give a reason.", field="reason")
    return why


async def _store(
    uow: UnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    *,
    before: Visit,
    after: Visit,
    action: str,
    reason: str | None,
    code: ReasonCode | None = None,
) -> Visit:
    await uow.visits.update(after)
    change = audit.updated(
        ctx, grant, before, after, _subject(before), action=action, reason=reason
    )
    if change is not None:
        uow.record(change if code is None else coded(change, code))
    # Out of window, assessments not done: raised with the visit, in its transaction.
    await raise_automatic(uow, ctx, grant, from_visit(before, after, uow.clock.now()))
    await uow.commit()
    return after


async def page(
    *, uow: UnitOfWork, ctx: RequestContext, filters: VisitFilter, request: PageRequest
) -> Page[Visit]:
    """Staff: their sites' visits. A participant: only their own (and never anyone else's)."""
    actor = ctx.actor
    if actor.kind is ActorKind.PARTICIPANT and actor.id is not None:
        filters = VisitFilter(
            participant_id=ParticipantId(actor.id),
            status=filters.status,
            upcoming_from=filters.upcoming_from,
        )
    visible = access.read_filter(actor, Permission.PARTICIPANT_READ)
    if visible.nothing:
        access.require_somewhere(actor, Permission.PARTICIPANT_READ)
    async with uow:
        return await uow.visits.page(filters, visible, request)


async def get(*, uow: UnitOfWork, ctx: RequestContext, visit_id: VisitId) -> Visit:
    async with uow:
        found = await uow.visits.get(visit_id)
    return access.visible(ctx.actor, Permission.PARTICIPANT_READ, found, visit_scope, "Visit")


def notes(ctx: RequestContext, visit: Visit) -> str | None:
    """Visit notes are free text about the participant: their site staff and they may read them."""
    access.require(ctx.actor, Permission.IDENTIFIERS_READ, visit_scope(visit))
    return visit.notes
