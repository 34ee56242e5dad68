"""Use cases for ePRO diaries: schedules, what is due, submissions, compliance, corrections."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import ActorKind, Grant, RequestContext
from domain.corrections import DataChangeRequest
from domain.diaries import (
    Compliance,
    DiaryEntry,
    DiarySchedule,
    ItemResult,
    LatePolicy,
    Submission,
    split_answers,
)
from domain.errors import DomainError, ErrorCode, NotFound, Unauthenticated
from domain.ids import ParticipantId, SiteId, StudyId
from domain.pagination import Page, PageRequest
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.questionnaires import QuestionnaireVersion, validate_answers
from domain.reason_codes import ReasonCode, coded, given_or_other
from domain.schedules import Occurrence, Recurrence, Timeliness
from domain.services import diary_intake as intake
from domain.services.participants import participant_scope, require_current_consent
from domain.services.studies import require_open, site_scope

MAX_BATCH = 200


def _subject(p: Participant) -> audit.Subject:
    return audit.Subject(study_id=p.study_id, site_id=p.site_id, participant_id=p.id)


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
        )
        await uow.diaries.add_schedule(schedule)
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
        planned = await intake.plan(uow, participant, start, end)
        latest = _latest([q.definition for q in await uow.questionnaires.all(participant.study_id)])
        answered = {
            (e.schedule_id, e.occurrence_key) for e in await uow.diaries.answered([participant.id])
        }
    return [
        Due(s, o, latest[s.questionnaire_code], (s.id, o.key) in answered)
        for s, o in planned
        if s.questionnaire_code in latest
    ]


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
    if len(submissions) > MAX_BATCH:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"Send at most {MAX_BATCH} entries at a time.",
            field="entries",
        )
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


async def change_requests(
    *, uow: UnitOfWork, ctx: RequestContext, entry: DiaryEntry
) -> Sequence[DataChangeRequest]:
    """Who changed which answers of an entry and why; the reason is free text, so it is
    shown only to those who may read the participant's identifiers."""
    scope = entry_scope(entry)
    access.require(ctx.actor, Permission.PARTICIPANT_READ, scope)
    async with uow:
        found = await uow.diaries.change_requests(entry.id)
    if access.allows(ctx.actor, Permission.IDENTIFIERS_READ, scope):
        return found
    return [r.withheld() for r in found]


def entry_scope(entry: DiaryEntry) -> Scope:
    return Scope(entry.study_id, entry.site_id, entry.participant_id)


def free_text(ctx: RequestContext, entry: DiaryEntry) -> dict[str, str]:
    """Free-text answers are personal: the participant and their site staff only."""
    access.require(ctx.actor, Permission.IDENTIFIERS_READ, entry_scope(entry))
    return dict(entry.free_text)


async def compliance(
    *, uow: UnitOfWork, ctx: RequestContext, participant_ids: Sequence[ParticipantId]
) -> Compliance:
    """Of the occurrences whose window has closed while the participant took part, how many
    were answered on time or late (the rest were missed)."""
    async with uow:
        found = await uow.participants.get_many(participant_ids)
        people = [
            p
            for p in found
            if access.allows(ctx.actor, Permission.PARTICIPANT_READ, participant_scope(p))
        ]
        now = uow.clock.now()
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
                for s, o in await intake.plan(
                    uow, participant, start, until, by_study[participant.study_id]
                )
                if o.closes_at < now
            ]
            mine = answered.get(participant.id, {})
            done = [mine[(s.id, o.key)] for s, o in planned if (s.id, o.key) in mine]
            total += Compliance(
                expected=len(planned),
                on_time=sum(e.timeliness is Timeliness.ON_TIME for e in done),
                late=sum(e.timeliness is Timeliness.LATE for e in done),
            )
    return total


async def site_compliance(*, uow: UnitOfWork, ctx: RequestContext, site_id: SiteId) -> Compliance:
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
    return await compliance(uow=uow, ctx=ctx, participant_ids=ids)


async def correct_entry(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    entry_id: uuid.UUID,
    changes: dict[str, object],
    reason: str,
    code: ReasonCode | str | None = None,
) -> DiaryEntry:
    """Site staff correct submitted answers through a data change request with a reason
    (and a reason code: OTHER when a client sends only the free text).

    Only the changed items are logged (old and new value); the entry's version goes up, so
    any signature on it shows as invalidated.
    """
    why = audit.normalise_reason(reason)
    if why is None:
        raise DomainError(ErrorCode.REASON_REQUIRED, "A correction needs a reason.", field="reason")
    why_code = given_or_other(code)
    async with uow:
        found = await uow.diaries.get(entry_id)
        entry = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, entry_scope, "Diary entry"
        )
        grant = access.require(ctx.actor, Permission.DATA_CORRECT, entry_scope(entry))
        await require_open(uow, entry.study_id)
        definitions = {
            (q.definition.code, q.definition.version): q.definition
            for q in await uow.questionnaires.all(entry.study_id)
        }
        version = definitions[(entry.questionnaire_code, entry.questionnaire_version)]
        merged = {**entry.answers, **entry.free_text, **changes}
        validated = validate_answers(version, {k: v for k, v in merged.items() if v is not None})
        if not validated.ok:
            problem = validated.problems[0]
            raise DomainError(
                ErrorCode.VALIDATION_FAILED, problem.message, field=f"changes.{problem.item}"
            )
        structured, free = split_answers(version, validated.plain())
        corrected = entry.corrected(structured, free)
        old = {**entry.answers, **entry.free_text}
        new = {**corrected.answers, **corrected.free_text}
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if not changed:
            return entry
        await uow.diaries.update(corrected)
        await uow.diaries.add_change_request(
            DataChangeRequest.applied(
                participant_id=entry.participant_id,
                record_type=entry.ENTITY,
                record_id=entry.id,
                items=tuple(changed),
                reason=why,
                by=ctx.actor.id or entry.participant_id,
                now=uow.clock.now(),
            )
        )
        personal = version.personal_items()
        change = audit.Change(
            entity_type=entry.ENTITY,
            entity_id=entry.id,
            action="corrected",
            fields=tuple(
                audit.FieldChange(
                    f"answers.{k}",
                    audit.to_json(old.get(k)),
                    audit.to_json(new.get(k)),
                    personal=k in personal,
                )
                for k in changed
            ),
            actor=ctx.actor,
            role=grant.role,
            origin=ctx.origin,
            subject=audit.Subject(entry.study_id, entry.site_id, entry.participant_id),
            reason=why,
        )
        uow.record(coded(change, why_code))
        await uow.commit()
    return corrected
