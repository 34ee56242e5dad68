"""Diary submission: an offline backlog of entries in one call, by the participant or by
site staff for them, each entry judged and stored on its own (see `intake`)."""

from __future__ import annotations

from collections.abc import Sequence

from domain import access, audit
from domain.access import Permission
from domain.actors import ActorKind, Grant, RequestContext
from domain.diaries import ItemResult, Submission
from domain.errors import DomainError, ErrorCode, NotFound, Unauthenticated
from domain.ids import ParticipantId
from domain.intake import DIARY_ENTRIES
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.services.diaries import intake
from domain.services.participants import participant_scope
from domain.services.studies import require_open


async def _submitter(
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId | None,
    proxy_reason: str | None,
) -> tuple[Participant, Grant, str | None]:
    """The participant themself, or site staff entering data for them with a reason."""
    actor = ctx.actor
    if actor.kind is ActorKind.ANONYMOUS:
        raise Unauthenticated
    # The participant's row stays locked until commit: one participant's batches run one
    # after the other, in the order sent, and overlapping ones cannot deadlock.
    if actor.kind is ActorKind.PARTICIPANT and actor.id is not None:
        participant = await uow.participants.lock(ParticipantId(actor.id))
        if participant is None or participant_id not in (None, participant.id):
            raise NotFound("Participant")  # the app answers for its participant only
        return (
            participant,
            access.require(actor, Permission.DATA_SUBMIT, participant_scope(participant)),
            None,
        )
    if participant_id is None:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "Say for which participant.", field="participant_id"
        )
    found = await uow.participants.lock(participant_id)
    participant = access.visible(
        actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
    )
    grant = access.require(actor, Permission.DATA_PROXY, participant_scope(participant))
    why = audit.normalise_reason(proxy_reason)
    if why is None:
        raise DomainError(
            ErrorCode.REASON_REQUIRED,
            "Entering data for a participant needs a reason.",
            field="proxy_reason",
        )
    return participant, grant, why


async def submit(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    submissions: Sequence[Submission],
    participant_id: ParticipantId | None = None,
    proxy_reason: str | None = None,
) -> list[ItemResult]:
    """An offline backlog in one call: each entry is accepted, a duplicate, quarantined or
    rejected with a code. Nothing is dropped silently; a resend changes nothing."""
    DIARY_ENTRIES.check(len(submissions))
    async with uow:
        participant, grant, why = await _submitter(uow, ctx, participant_id, proxy_reason)
        await require_open(uow, participant.study_id)
        received_at = uow.clock.now()
        stored = {e.id: e for e in await uow.diaries.get_many([s.client_id for s in submissions])}
        digests = [await uow.diaries.fingerprint(participant.id, s.digest()) for s in submissions]
        context = await intake.context(uow, ctx, participant, submissions, received_at)
        batch = intake.Batch(uow, ctx, grant, participant, context, received_at, why, stored)
        results = [await batch.one(s, d) for s, d in zip(submissions, digests, strict=True)]
        await uow.commit()
    return results
