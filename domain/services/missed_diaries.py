"""The worker's periodic check for missed diaries: every enrolled participant of every open
study, each in a transaction of their own, raises a MISSED_ASSESSMENT deviation per required
occurrence that can no longer be answered (`domain.missed_diaries`), audited as "raised".

Rerunning is cheap and safe: occurrences already raised are skipped before anything is
written, and two runs at once meet at the unique trigger index, where the second finds the
deviation taken and neither stores nor audits it again.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain import access
from domain.access import Permission
from domain.actors import RequestContext
from domain.diaries import DiarySchedule
from domain.ids import ParticipantId, StudyId
from domain.missed_diaries import OCCURRENCE, missed_diaries, taking_part_since
from domain.participants import ParticipantStatus
from domain.ports import UnitOfWorkFactory
from domain.services import occurrences as plans
from domain.services.deviations import raise_automatic
from domain.services.participants import participant_scope
from domain.studies import StudyStatus


async def check(
    *, uows: UnitOfWorkFactory, ctx: RequestContext, study_ids: Sequence[StudyId] | None = None
) -> int:
    """Raise what was missed in every open study the actor sees (or those given); how many
    deviations were raised."""
    if study_ids is None:
        async with uows() as uow:
            visible = access.read_filter(ctx.actor, Permission.STUDY_READ)
            studies = await uow.studies.list(visible)
        study_ids = [s.id for s in studies if s.status is StudyStatus.OPEN]
    raised = 0
    for study_id in study_ids:
        async with uows() as uow:
            schedules = await uow.diaries.schedules(study_id)
            found = await uow.participants.get_many(await uow.studies.participant_ids(study_id))
        if not schedules:
            continue
        for participant in found:
            if participant.status is ParticipantStatus.ENROLLED:
                raised += await check_participant(uows, ctx, participant.id, schedules)
    return raised


async def check_participant(
    uows: UnitOfWorkFactory,
    ctx: RequestContext,
    participant_id: ParticipantId,
    schedules: Sequence[DiarySchedule] | None = None,
) -> int:
    """One participant, in one transaction: how many deviations were raised."""
    async with uows() as uow:
        participant = await uow.participants.get(participant_id)
        if participant is None:
            return 0
        grant = access.require(ctx.actor, Permission.DATA_PROXY, participant_scope(participant))
        consents = await uow.consents.consents_of(participant.id)
        since = taking_part_since(participant, min((c.signed_at for c in consents), default=None))
        now = uow.clock.now()
        if since is None or since >= now:
            return 0
        planned = await plans.plan(uow, participant, since, now, schedules)
        answered = await uow.diaries.answered_keys(participant.id, [o.key for _, o in planned])
        known = {
            d.trigger
            for d in await uow.deviations.of_participant(participant.id)
            if d.trigger is not None and d.trigger.record_type == OCCURRENCE
        }
        found = missed_diaries(
            participant, since=since, planned=planned, answered=answered, now=now
        )
        stored = await raise_automatic(
            uow, ctx, grant, [d for d in found if d.trigger not in known]
        )
        await uow.commit()  # the deviations, and what was planned just now
    return len(stored)
