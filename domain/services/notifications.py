"""The participant's app registers where to reach it and acknowledges what it opened; site
staff read the receipts of their participants and sites."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain import access
from domain.access import Permission, Scope
from domain.actors import ActorKind, RequestContext
from domain.errors import Invalid, NotFound, Unauthenticated
from domain.ids import ParticipantId, SiteId, StudyId, new_id
from domain.notifications import Notification, PushSubscription, State
from domain.participants import Participant
from domain.services.participants import participant_scope
from domain.services.reminders import NotifyingUnitOfWork
from domain.services.studies import site_scope

MAX_RECEIPTS = 200


def notification_scope(n: Notification) -> Scope:
    return Scope(StudyId(n.study_id), SiteId(n.site_id), ParticipantId(n.participant_id))


async def _own(uow: NotifyingUnitOfWork, ctx: RequestContext) -> Participant:
    """The calling participant (the app answers for its participant only)."""
    actor = ctx.actor
    if actor.kind is ActorKind.ANONYMOUS:
        raise Unauthenticated
    if actor.kind is not ActorKind.PARTICIPANT or actor.id is None:
        raise NotFound("Participant")
    participant = await uow.participants.get(ParticipantId(actor.id))
    if participant is None:
        raise NotFound("Participant")
    access.require(actor, Permission.DATA_SUBMIT, participant_scope(participant))
    return participant


async def register_push_subscription(
    *, uow: NotifyingUnitOfWork, ctx: RequestContext, endpoint: str, p256dh: str, auth: str
) -> PushSubscription:
    async with uow:
        participant = await _own(uow, ctx)
        subscription = PushSubscription(
            new_id(),
            participant.id,
            endpoint.strip(),
            p256dh.strip(),
            auth.strip(),
            uow.clock.now(),
        )
        stored = await uow.notifications.subscribe(subscription)
        await uow.commit()
    return stored


async def remove_push_subscription(
    *, uow: NotifyingUnitOfWork, ctx: RequestContext, endpoint: str
) -> bool:
    async with uow:
        participant = await _own(uow, ctx)
        removed = await uow.notifications.unsubscribe(participant.id, endpoint.strip())
        await uow.commit()
    return removed


async def acknowledge(
    *,
    uow: NotifyingUnitOfWork,
    ctx: RequestContext,
    notification_id: uuid.UUID,
    state: State = State.OPENED,
) -> Notification:
    """The app got the notification (DELIVERED) or the participant opened it (OPENED): its
    receipt says so (again: no change; delivered after opened: still opened)."""
    if state not in (State.DELIVERED, State.OPENED):
        raise Invalid("state", "The app reports DELIVERED or OPENED.")
    async with uow:
        participant = await _own(uow, ctx)
        found = await uow.notifications.get(notification_id)
        if found is None or found.participant_id != participant.id:
            raise NotFound("Notification")
        if state is State.DELIVERED and found.state is State.OPENED:
            return found  # a late delivery report: opening said more already
        opened = found.moved(state, uow.clock.now())
        if opened != found:
            await uow.notifications.save(opened)
            await uow.commit()
    return opened


async def of_participant(
    *, uow: NotifyingUnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> Sequence[Notification]:
    async with uow:
        found = await uow.participants.get(participant_id)
        access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        return await uow.notifications.of_participants([participant_id], MAX_RECEIPTS)


async def of_site(
    *, uow: NotifyingUnitOfWork, ctx: RequestContext, site_id: SiteId
) -> Sequence[Notification]:
    async with uow:
        site = access.visible(
            ctx.actor, Permission.SITE_READ, await uow.sites.get(site_id), site_scope, "Site"
        )
        access.require(ctx.actor, Permission.PARTICIPANT_READ, site_scope(site))
        return await uow.notifications.of_site(site_id, MAX_RECEIPTS)
