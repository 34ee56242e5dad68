"""Use cases for ePRO diaries: schedules, what is due, submissions, compliance, corrections."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import ActorKind, Grant, RequestContext
from domain.consent import ensure_can_collect
from domain.corrections import DataChangeRequest
from domain.diaries import (
    Compliance,
    Context,
    DiaryEntry,
    DiarySchedule,
    EntryCode,
    EntryStatus,
    ItemResult,
    LatePolicy,
    Outcome,
    Submission,
    assess,
    split_answers,
)
from domain.errors import DomainError, ErrorCode, NotFound, Unauthenticated
from domain.ids import ParticipantId, SiteId, StudyId
from domain.pagination import Page, PageRequest
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.questionnaires import QuestionnaireVersion, validate_answers
from domain.readings import skew_flag
from domain.schedules import Occurrence, Recurrence, Timeliness, occurrences
from domain.services.participants import participant_scope
from domain.services.studies import site_scope

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


async def _plan(
    uow: UnitOfWork,
    participant: Participant,
    start: datetime,
    end: datetime,
    schedules: Sequence[DiarySchedule] | None = None,
) -> list[tuple[DiarySchedule, Occurrence]]:
    if participant.enrolled_on is None:  # diaries start at enrolment (day 0)
        return []
    history = await uow.participants.zones(participant.id)
    if schedules is None:
        schedules = await uow.diaries.schedules(participant.study_id)
    planned = []
    for schedule in schedules:
        if schedule.applies_to(participant.arm_id):
            found = occurrences(
                schedule.recurrence,
                anchor=participant.enrolled_on,
                history=history,
                start=start,
                end=end,
            )
            planned += [(schedule, o) for o in found]
    return sorted(planned, key=lambda pair: pair[1].due_at)


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
        planned = await _plan(uow, participant, start, end)
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
        received_at = uow.clock.now()
        stored = {e.id: e for e in await uow.diaries.get_many([s.client_id for s in submissions])}
        digests = [await uow.diaries.fingerprint(participant.id, s.digest()) for s in submissions]
        try:
            latest_consent = await uow.consents.latest_consent(participant.id)
            ensure_can_collect(
                participant, await uow.consents.latest_version(participant.study_id), latest_consent
            )
        except DomainError as refused:  # resends still get their original answer
            return [
                _replayed(stored[s.client_id], participant, d)
                if s.client_id in stored
                else ItemResult(s.client_id, Outcome.REJECTED, refused.code.value)
                for s, d in zip(submissions, digests, strict=True)
            ]
        context = await _context(uow, participant, submissions, received_at)
        batch = _Batch(uow, ctx, grant, participant, context, received_at, why, stored)
        results = [await batch.one(s, d) for s, d in zip(submissions, digests, strict=True)]
        await uow.commit()
    return results


async def _context(
    uow: UnitOfWork,
    participant: Participant,
    submissions: Sequence[Submission],
    received_at: datetime,
) -> Context:
    schedules = {s.id: s for s in await uow.diaries.schedules(participant.study_id)}
    definitions = [q.definition for q in await uow.questionnaires.all(participant.study_id)]
    # Only plausible times shape the window; others are refused per entry (INVALID_TIME or
    # no matching occurrence) instead of failing the whole backlog.
    earliest = participant.registered_at - timedelta(days=2)
    times = [
        s.completed_at
        for s in submissions
        if earliest <= s.completed_at <= received_at + timedelta(days=1)
    ]
    planned = (
        await _plan(
            uow,
            participant,
            min(times, default=participant.registered_at) - timedelta(days=9),
            max(times, default=participant.registered_at) + timedelta(days=1),
            list(schedules.values()),
        )
        if times
        else []
    )
    return Context(
        schedules=schedules,
        versions={(v.code, v.version): v for v in definitions},
        latest={code: v.version for code, v in _latest(definitions).items()},
        arm_id=participant.arm_id,
        occurrences={(s.id, o.key): o for s, o in planned},
    )


@dataclass(frozen=True)
class _Batch:
    """One submission call: who sends for whom, and what every entry is judged against."""

    uow: UnitOfWork
    ctx: RequestContext
    grant: Grant
    participant: Participant
    context: Context
    received_at: datetime
    proxy_reason: str | None
    stored: dict[uuid.UUID, DiaryEntry]  # entries that already existed before this call

    async def one(self, submission: Submission, digest: str) -> ItemResult:
        """`digest` is the submission's fingerprint under the participant's key."""
        existing = self.stored.get(submission.client_id)
        if existing is not None:
            return _replayed(existing, self.participant, digest)
        verdict = assess(submission, self.context, self.received_at)
        occurrence, timeliness = verdict.occurrence, verdict.timeliness
        if verdict.outcome is Outcome.REJECTED or occurrence is None or timeliness is None:
            return ItemResult(submission.client_id, Outcome.REJECTED, verdict.code)
        version = self.context.versions[
            (submission.questionnaire_code, submission.questionnaire_version)
        ]
        validated = validate_answers(version, submission.answers)
        if not validated.ok:
            return ItemResult(
                submission.client_id,
                Outcome.REJECTED,
                EntryCode.INVALID_ANSWERS,
                validated.problems,
            )
        structured, free = split_answers(version, validated.plain())
        participant = self.participant
        entry = DiaryEntry(
            id=submission.client_id,
            participant_id=participant.id,
            study_id=participant.study_id,
            site_id=participant.site_id,
            schedule_id=submission.schedule_id,
            occurrence_key=submission.occurrence_key,
            due_at=occurrence.due_at,
            questionnaire_code=version.code,
            questionnaire_version=version.version,
            content_hash=version.content_hash,
            answers=structured,
            free_text=free,
            completed_at=submission.completed_at,
            received_at=self.received_at,
            timeliness=timeliness,
            status=EntryStatus.ACCEPTED
            if verdict.outcome is Outcome.ACCEPTED
            else EntryStatus.QUARANTINED,
            quarantine_code=verdict.code,
            entered_by=self.ctx.actor.id or participant.id,
            proxy_reason=self.proxy_reason,
            clock_skewed=skew_flag(self.ctx.origin.device_time, self.received_at),
            digest=digest,
        )
        return await _store(self.uow, self.ctx, self.grant, participant, entry)


async def _store(
    uow: UnitOfWork, ctx: RequestContext, grant: Grant, participant: Participant, entry: DiaryEntry
) -> ItemResult:
    if not await uow.diaries.try_add(entry):
        existing = await uow.diaries.get(entry.id)
        if existing is not None:  # a concurrent resend won: this one is its duplicate
            return _replayed(existing, participant, entry.digest)
        entry = DiaryEntry(
            **{
                **entry.__dict__,
                "status": EntryStatus.QUARANTINED,
                "quarantine_code": EntryCode.ANSWERED_ALREADY,
            }
        )
        if not await uow.diaries.try_add(entry):  # a resend of this very entry won meanwhile
            existing = await uow.diaries.get(entry.id)
            if existing is None:
                raise DomainError(ErrorCode.STALE_VERSION, "The entry changed meanwhile; resend.")
            return _replayed(existing, participant, entry.digest)
    uow.record(_entry_change(ctx, grant, participant, entry))
    outcome = Outcome.ACCEPTED if entry.status is EntryStatus.ACCEPTED else Outcome.QUARANTINED
    return ItemResult(entry.id, outcome, entry.quarantine_code, entry=entry)


def _replayed(existing: DiaryEntry, participant: Participant, digest: str) -> ItemResult:
    """A resend gets the original result; the same id with other content (or someone else's
    entry) is a conflict that shows nothing of what is stored."""
    if existing.digest != digest or existing.participant_id != participant.id:
        return ItemResult(existing.id, Outcome.REJECTED, EntryCode.CLIENT_ID_CONFLICT)
    return ItemResult(existing.id, Outcome.DUPLICATE, existing.quarantine_code, entry=existing)


def _entry_change(
    ctx: RequestContext, grant: Grant, participant: Participant, entry: DiaryEntry
) -> audit.Change:
    fields = [
        audit.FieldChange("status", None, entry.status.value),
        audit.FieldChange("occurrence_key", None, entry.occurrence_key),
        audit.FieldChange(
            "questionnaire", None, f"{entry.questionnaire_code} v{entry.questionnaire_version}"
        ),
        audit.FieldChange("completed_at", None, entry.completed_at.isoformat()),
        audit.FieldChange("timeliness", None, entry.timeliness.value),
    ]
    fields += [
        audit.FieldChange(f"answers.{k}", None, audit.to_json(v))
        for k, v in sorted(entry.answers.items())
    ]
    fields += [
        audit.FieldChange(f"answers.{k}", None, v, personal=True)
        for k, v in sorted(entry.free_text.items())
    ]
    return audit.Change(
        entity_type=entry.ENTITY,
        entity_id=entry.id,
        action="submitted",
        fields=tuple(fields),
        actor=ctx.actor,
        role=grant.role,
        origin=ctx.origin,
        subject=_subject(participant),
        reason=entry.proxy_reason,
    )


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
                for s, o in await _plan(
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
) -> DiaryEntry:
    """Site staff correct submitted answers through a data change request with a reason.

    Only the changed items are logged (old and new value); the entry's version goes up, so
    any signature on it shows as invalidated.
    """
    why = audit.normalise_reason(reason)
    if why is None:
        raise DomainError(ErrorCode.REASON_REQUIRED, "A correction needs a reason.", field="reason")
    async with uow:
        found = await uow.diaries.get(entry_id)
        entry = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, entry_scope, "Diary entry"
        )
        grant = access.require(ctx.actor, Permission.DATA_CORRECT, entry_scope(entry))
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
        uow.record(
            audit.Change(
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
        )
        await uow.commit()
    return corrected
