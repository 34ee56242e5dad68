"""Use cases for planned diary occurrences: read a participant's plan (planning what is
missing, once), replan in the worker after a change, and say when a change needs one.

A change to a planner input (a schedule, an enrolment or arm, a time zone) changes the
plan's basis, so requests never read a stale plan; the worker replans the plans that exist
so the next request finds its rows ready. A participant without a plan gets one from the
first request that needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.actors import RequestContext
from domain.diaries import DiarySchedule
from domain.ids import ParticipantId, StudyId
from domain.occurrences import REPLAN, REPLAN_STUDY, STORED_REACH, PlanInputs
from domain.outbox import Work
from domain.participants import Participant
from domain.ports import UnitOfWork, UnitOfWorkFactory
from domain.schedules import Occurrence


async def inputs(
    uow: UnitOfWork,
    participant: Participant,
    schedules: Sequence[DiarySchedule] | None = None,
) -> PlanInputs | None:
    """What the planner reads for this participant; None before enrolment (day 0)."""
    if participant.enrolled_on is None:
        return None
    if schedules is None:
        schedules = await uow.diaries.schedules(participant.study_id)
    return PlanInputs.of(
        enrolled_on=participant.enrolled_on,
        arm_id=participant.arm_id,
        schedules=schedules,
        history=await uow.participants.zones(participant.id),
    )


async def plan(
    uow: UnitOfWork,
    participant: Participant,
    start: datetime,
    end: datetime,
    schedules: Sequence[DiarySchedule] | None = None,
) -> list[tuple[DiarySchedule, Occurrence]]:
    """The occurrences due in [start, end), as the planner orders them, read from the stored
    plan. What the plan lacks is planned here and stored in this unit of work (the caller
    commits it); farther than the horizon allows, it is planned for this call only."""
    found = await inputs(uow, participant, schedules)
    if found is None or not found.schedules or end <= start:
        return []
    basis = found.basis()
    stored = await uow.occurrences.read(participant.id, basis, start, end)
    if stored is not None and end <= stored.until:
        return found.ordered(stored.occurrences)
    ahead = uow.clock.now() + uow.occurrences.horizon
    if end > ahead + STORED_REACH:
        return found.ordered(found.plan(start, end))
    begin = found.origin if stored is None else stored.until
    until = max(end, ahead)
    added = found.plan(begin, until)
    await uow.occurrences.store(participant.id, basis, added, until)
    kept = [] if stored is None else list(stored.occurrences)
    wanted = [p for p in added if start <= p.occurrence.due_at < end]
    return found.ordered(kept + wanted)


async def replan(
    uows: UnitOfWorkFactory, ctx: RequestContext, participant_id: ParticipantId
) -> None:
    """Worker: bring the participant's plan up to date with its inputs and drop old plans."""
    async with uows() as uow:
        participant = await uow.participants.get(participant_id)
        if participant is None:
            return
        found = await inputs(uow, participant)
        if found is None:
            return
        now = uow.clock.now()
        await plan(uow, participant, now, now + uow.occurrences.horizon)
        await uow.occurrences.forget_others(participant.id, found.basis())
        await uow.commit()


async def replan_study(uows: UnitOfWorkFactory, ctx: RequestContext, study_id: StudyId) -> None:
    """Worker: replan every stored plan of the study (after a schedule was added), each
    participant in a transaction of their own."""
    async with uows() as uow:
        planned = await uow.occurrences.planned_in(study_id)
    for participant_id in planned:
        await replan(uows, ctx, participant_id)


async def participant_changed(
    uow: UnitOfWork, participant_id: ParticipantId, *, first: bool = False
) -> None:
    """Inside a change's unit of work: have the worker replan the participant's plan when
    the change commits, if there is one (or, `first`, make it: a new enrolment)."""
    if first or await uow.occurrences.has_plans(participant_id):
        uow.enqueue(Work(REPLAN, {"participant_id": str(participant_id)}))


async def study_changed(uow: UnitOfWork, study_id: StudyId) -> None:
    """Inside a change's unit of work: the same for every plan of the study."""
    if await uow.occurrences.planned_in(study_id):
        uow.enqueue(Work(REPLAN_STUDY, {"study_id": str(study_id)}, key=f"replan:{study_id}"))
