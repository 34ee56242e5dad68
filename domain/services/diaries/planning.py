"""Diary planning: schedules, what is due for a participant, and compliance (occurrences
whose window closed, answered on time or late), all read from the stored plans."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import RequestContext
from domain.diaries import Compliance, DiaryEntry, DiarySchedule, LatePolicy
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ParticipantId, SiteId, StudyId
from domain.pagination import PageRequest
from domain.ports import UnitOfWork
from domain.questionnaires import QuestionnaireVersion
from domain.reminders import Policy
from domain.schedules import Occurrence, Recurrence, Timeliness
from domain.services import occurrences as plans
from domain.services.participants import participant_scope, require_current_consent
from domain.services.studies import site_scope


async def create_schedule(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    questionnaire_code: str,
    arm_id: uuid.UUID | None,
    recurrence: Recurrence,
    late_policy: LatePolicy,
    late_grace: timedelta,
    reminders: Policy | None = None,
) -> DiarySchedule:
    grant = access.require(ctx.actor, Permission.STUDY_DESIGN, Scope(study_id=study_id))
    async with uow:
        known = {q.definition.code for q in await uow.questionnaires.all(study_id)}
        if questionnaire_code.strip().upper() not in known:
            raise NotFound("Questionnaire")
        schedule = DiarySchedule.new(
            study_id=study_id,
            questionnaire_code=questionnaire_code.strip().upper(),
            arm_id=arm_id,
            recurrence=recurrence,
            late_policy=late_policy,
            late_grace=late_grace,
            now=uow.clock.now(),
            reminders=reminders,
        )
        await uow.diaries.add_schedule(schedule)
        await plans.study_changed(uow, study_id)
        uow.record(audit.created(ctx, grant, schedule, audit.Subject(study_id=study_id)))
        await uow.commit()
    return schedule


async def schedules(
    *, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId
) -> Sequence[DiarySchedule]:
    access.require(ctx.actor, Permission.STUDY_READ, Scope(study_id=study_id))
    async with uow:
        return await uow.diaries.schedules(study_id)


@dataclass(frozen=True)
class Due:
    """An occurrence of a diary, with what the app needs to show and submit it."""

    schedule: DiarySchedule
    occurrence: Occurrence
    questionnaire: QuestionnaireVersion
    answered: bool


def _latest(uow_versions: Sequence[QuestionnaireVersion]) -> dict[str, QuestionnaireVersion]:
    latest: dict[str, QuestionnaireVersion] = {}
    for version in uow_versions:
        if version.code not in latest or version.version > latest[version.code].version:
            latest[version.code] = version
    return latest


async def due(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    start: datetime,
    end: datetime,
) -> Sequence[Due]:
    """Occurrences between start and end in the participant's local time, answered or not."""
    if end - start > timedelta(days=62):
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "Ask for at most 62 days at a time.", field="end"
        )
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        if participant.is_active:  # say why nothing is due, rather than an empty list
            await require_current_consent(uow, participant)
        planned = await plans.plan(uow, participant, start, end)
        latest = _latest([q.definition for q in await uow.questionnaires.all(participant.study_id)])
        answered = await uow.diaries.answered_keys(participant.id, [o.key for _, o in planned])
        await uow.commit()  # what was planned just now is kept for the next request
    return [
        Due(s, o, latest[s.questionnaire_code], (s.id, o.key) in answered)
        for s, o in planned
        if s.questionnaire_code in latest
    ]


async def compliance(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_ids: Sequence[ParticipantId],
    last_days: int | None = None,
) -> Compliance:
    """Of the occurrences whose window has closed while the participant took part (within
    the `last_days` days before now, when given), how many were answered on time or late
    (the rest were missed)."""
    _check_days(last_days)
    async with uow:
        found = await uow.participants.get_many(participant_ids)
        people = [
            p
            for p in found
            if access.allows(ctx.actor, Permission.PARTICIPANT_READ, participant_scope(p))
        ]
        now = uow.clock.now()
        since = None if last_days is None else now - timedelta(days=last_days)
        total = Compliance(0, 0, 0)
        answered: dict[ParticipantId, dict[tuple[uuid.UUID, str], DiaryEntry]] = {}
        for e in await uow.diaries.answered([p.id for p in people]):
            answered.setdefault(e.participant_id, {})[(e.schedule_id, e.occurrence_key)] = e
        by_study: dict[StudyId, Sequence[DiarySchedule]] = {}
        for participant in people:
            if participant.enrolled_on is None:  # not enrolled: nothing was ever due
                continue
            if participant.study_id not in by_study:
                by_study[participant.study_id] = await uow.diaries.schedules(participant.study_id)
            # Due before now (or before withdrawal or completion), with the window closed.
            until = now if participant.is_active else min(now, participant.status_changed_at)
            start = datetime.combine(
                participant.enrolled_on - timedelta(days=2), datetime.min.time(), tzinfo=UTC
            )
            planned = [
                (s, o)
                for s, o in await plans.plan(
                    uow, participant, start, until, by_study[participant.study_id]
                )
                if o.closes_at < now and (since is None or o.closes_at >= since)
            ]
            mine = answered.get(participant.id, {})
            done = [mine[(s.id, o.key)] for s, o in planned if (s.id, o.key) in mine]
            total += Compliance(
                expected=len(planned),
                on_time=sum(e.timeliness is Timeliness.ON_TIME for e in done),
                late=sum(e.timeliness is Timeliness.LATE for e in done),
            )
        await uow.commit()  # what was planned just now is kept for the next request
    return total


async def site_compliance(
    *, uow: UnitOfWork, ctx: RequestContext, site_id: SiteId, last_days: int | None = None
) -> Compliance:
    _check_days(last_days)
    async with uow:
        site = access.visible(
            ctx.actor, Permission.SITE_READ, await uow.sites.get(site_id), site_scope, "Site"
        )
        access.require(ctx.actor, Permission.PARTICIPANT_READ, site_scope(site))
        visible = access.read_filter(ctx.actor, Permission.PARTICIPANT_READ)
        ids: list[ParticipantId] = []
        after = None
        while True:
            page = await uow.participants.page(
                site_ids=[site_id],
                visible=visible,
                status=None,
                request=PageRequest(first=100, after=after),
            )
            ids += [p.id for p in page.items]
            if not page.has_next_page:
                break
            after = (str(page.items[-1].id),)
    return await compliance(uow=uow, ctx=ctx, participant_ids=ids, last_days=last_days)


MAX_COMPLIANCE_DAYS = 366


def _check_days(last_days: int | None) -> None:
    if last_days is not None and not 1 <= last_days <= MAX_COMPLIANCE_DAYS:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"Ask for the last 1 to {MAX_COMPLIANCE_DAYS} days, or leave it out for all.",
            field="lastDays",
        )
