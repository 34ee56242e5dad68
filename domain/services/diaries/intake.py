"""Diary submissions, entry by entry: what each entry is judged against, and how it is kept.

`context` loads, once per batch, what `domain.diaries.assess` needs: schedules, questionnaire
versions and when each was published, the participant's consent history, and the occurrences
the entries name (read from the participant's stored plan, `domain.services.occurrences`).
`Batch.one` then judges, validates and stores one entry with its audit event; a resend gets
the original result.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from domain import audit
from domain.actors import Grant, RequestContext
from domain.deviations import Trigger, consent_not_current
from domain.device_time import skew_flag
from domain.diaries import (
    Context,
    DiaryEntry,
    DiarySchedule,
    EntryCode,
    EntryStatus,
    ItemResult,
    Submission,
    assess,
    split_answers,
)
from domain.errors import DomainError, ErrorCode
from domain.intake import Outcome
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.questionnaires import validate_answers
from domain.schedules import Occurrence
from domain.services import consent as consent_cases
from domain.services.deviations import raise_automatic
from domain.services.occurrences import plan


def _subject(p: Participant) -> audit.Subject:
    return audit.Subject(study_id=p.study_id, site_id=p.site_id, participant_id=p.id)


async def context(
    uow: UnitOfWork,
    ctx: RequestContext,
    participant: Participant,
    submissions: Sequence[Submission],
    received_at: datetime,
) -> Context:
    schedules = {s.id: s for s in await uow.diaries.schedules(participant.study_id)}
    published = await uow.questionnaires.all(participant.study_id)
    definitions = [q.definition for q in published]
    # Only plausible times shape the window; others are refused per entry (INVALID_TIME or
    # no matching occurrence) instead of failing the whole backlog.
    earliest = participant.registered_at - timedelta(days=2)
    times = [
        s.completed_at
        for s in submissions
        if earliest <= s.completed_at <= received_at + timedelta(days=1)
    ]
    planned = (
        await plan(
            uow,
            participant,
            min(times, default=participant.registered_at) - timedelta(days=9),
            max(times, default=participant.registered_at) + timedelta(days=1),
            list(schedules.values()),
        )
        if times
        else []
    )
    occurrences = {(s.id, o.key): o for s, o in planned}
    for schedule, occurrence in await _listed(
        uow, participant, submissions, occurrences, schedules
    ):
        occurrences[(schedule.id, occurrence.key)] = occurrence
    return Context(
        schedules=schedules,
        versions={(v.code, v.version): v for v in definitions},
        published={(q.definition.code, q.definition.version): q.published_at for q in published},
        arm_id=participant.arm_id,
        consent=await consent_cases.history(uow, participant),
        device_time=ctx.origin.device_time,
        occurrences=occurrences,
    )


async def _listed(
    uow: UnitOfWork,
    participant: Participant,
    submissions: Sequence[Submission],
    known: Mapping[tuple[uuid.UUID, str], Occurrence],
    schedules: Mapping[uuid.UUID, DiarySchedule],
) -> list[tuple[DiarySchedule, Occurrence]]:
    """Occurrences named by entries that lie outside the planned range (a diary listed for
    next week, answered now): found by their key's date, so the entry hears WINDOW_NOT_OPEN
    rather than UNKNOWN_OCCURRENCE."""
    days = {
        day
        for s in submissions
        if (s.schedule_id, s.occurrence_key) not in known
        and s.schedule_id in schedules
        and (day := _key_day(s.occurrence_key)) is not None
    }
    found: list[tuple[DiarySchedule, Occurrence]] = []
    for day in sorted(days):
        start = datetime.combine(day - timedelta(days=2), time(), tzinfo=UTC)
        found += await plan(
            uow, participant, start, start + timedelta(days=5), list(schedules.values())
        )
    return found


def _key_day(key: str) -> date | None:
    """The local date of an occurrence key such as "2026-03-29T09:00"."""
    try:
        return date.fromisoformat(key[:10]) if len(key) == 16 and key[10] == "T" else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Batch:
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
            return replayed(existing, self.participant, digest)
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
            quarantine_code=verdict.code if isinstance(verdict.code, EntryCode) else None,
            entered_by=self.ctx.actor.id or participant.id,
            proxy_reason=self.proxy_reason,
            clock_skewed=skew_flag(self.ctx.origin.device_time, self.received_at),
            digest=digest,
            consent_superseded=verdict.superseded,
        )
        return await _store(self.uow, self.ctx, self.grant, participant, entry, flag=verdict.flag)


async def _store(
    uow: UnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    participant: Participant,
    entry: DiaryEntry,
    *,
    flag: str | None = None,
) -> ItemResult:
    if not await uow.diaries.try_add(entry):
        existing = await uow.diaries.get(entry.id)
        if existing is not None:  # a concurrent resend won: this one is its duplicate
            return replayed(existing, participant, entry.digest)
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
            return replayed(existing, participant, entry.digest)
    uow.record(_entry_change(ctx, grant, participant, entry))
    if entry.quarantine_code is EntryCode.CONSENT_SUPERSEDED:
        # Completed when the consent the participant had signed was no longer current: a
        # deviation, raised with the entry in its transaction.
        deviation = consent_not_current(
            study_id=participant.study_id,
            site_id=participant.site_id,
            participant_id=participant.id,
            trigger=Trigger(entry.ENTITY, entry.id),
            collected_on=entry.completed_at.date().isoformat(),
            now=uow.clock.now(),
        )
        await raise_automatic(uow, ctx, grant, [deviation])
    if entry.status is EntryStatus.ACCEPTED:
        return ItemResult(entry.id, Outcome.ACCEPTED, flag, entry=entry)
    return ItemResult(entry.id, Outcome.QUARANTINED, entry.quarantine_code, entry=entry)


def replayed(existing: DiaryEntry, participant: Participant, digest: str) -> ItemResult:
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
    if entry.consent_superseded:
        fields.append(audit.FieldChange("consent_superseded", None, True))
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
