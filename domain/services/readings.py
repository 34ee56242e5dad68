"""Use cases for device readings: batch ingestion with per-item outcomes, reads, deletion."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import ActorKind, RequestContext, Role
from domain.consent import CONSENT_SUPERSEDED
from domain.deviations import Trigger, consent_not_current
from domain.devices import DailySummary, StoredReading
from domain.errors import DomainError, ErrorCode, Forbidden, NotFound, Unauthenticated
from domain.ids import ParticipantId, new_id
from domain.intake import READINGS, Outcome
from domain.pagination import Page, PageRequest
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.reading_intake import Intake, ItemOutcome, device_ids, settle, sort_items
from domain.readings import ReadingKind
from domain.reason_codes import ReasonCode, coded
from domain.records import ReadingFilter
from domain.services import consent as consent_cases
from domain.services import reason_codes
from domain.services.deviations import raise_automatic
from domain.services.participants import participant_scope
from domain.services.studies import require_open


@dataclass(frozen=True)
class Ingested:
    batch_id: uuid.UUID
    items: list[ItemOutcome]

    def count(self, outcome: Outcome) -> int:
        return sum(item.outcome is outcome for item in self.items)


READING_BATCH = "ReadingBatch"  # what raised a deviation: one batch of readings


async def ingest(*, uow: UnitOfWork, ctx: RequestContext, items: Sequence[object]) -> Ingested:
    """Readings from the participant's app: each item ACCEPTED, QUARANTINED, DUPLICATE or
    REJECTED (domain.reading_intake says which).

    Rows go in with one bulk statement; one audit event records the batch (count and digest).
    """
    actor = ctx.actor
    if actor.kind is ActorKind.ANONYMOUS:
        raise Unauthenticated
    if actor.kind is not ActorKind.PARTICIPANT or actor.id is None:
        raise Forbidden("Readings come from the participant's app.")
    READINGS.check(len(items))
    batch_id = new_id()
    async with uow:
        participant = await uow.participants.get(ParticipantId(actor.id))
        if participant is None:
            raise NotFound("Participant")
        grant = access.require(actor, Permission.DATA_SUBMIT, participant_scope(participant))
        await require_open(uow, participant.study_id)
        intake = await _intake(uow, ctx, participant, items, batch_id)
        # Checking thousands of readings is CPU work: in a thread, so the server's other
        # requests are not held up behind a large upload.
        done = await asyncio.to_thread(sort_items, items, intake)
        inserted, stored = await uow.readings.add_batch(done.rows) if done.rows else (set(), {})
        if done.lookups:  # refused, but a resend of a stored reading is still a duplicate
            stored = {**stored, **(await uow.readings.add_batch(done.lookups, store=False))[1]}
        final = [settle(o, done, inserted, stored, participant) for o in done.outcomes]
        kept = [r for r in done.rows if r.id in inserted]
        if kept:
            change = await asyncio.to_thread(
                _batch_change,
                ctx,
                grant.role,
                participant,
                batch_id=batch_id,
                stored=kept,
                outcomes=final,
            )
            uow.record(change)
            superseded = [r for r in kept if r.quarantine_code == CONSENT_SUPERSEDED]
            if superseded:  # taken when the signed consent was no longer current
                first = min(r.reading.effective_start for r in superseded)
                deviation = consent_not_current(
                    study_id=participant.study_id,
                    site_id=participant.site_id,
                    participant_id=participant.id,
                    trigger=Trigger(READING_BATCH, batch_id),
                    collected_on=first.date().isoformat(),
                    now=uow.clock.now(),
                )
                await raise_automatic(uow, ctx, grant, [deviation])
        await uow.commit()
    return Ingested(batch_id, final)


async def _intake(
    uow: UnitOfWork,
    ctx: RequestContext,
    participant: Participant,
    items: Sequence[object],
    batch_id: uuid.UUID,
) -> Intake:
    devices = await uow.devices.get_many(device_ids(items))
    return Intake(
        participant=participant,
        consent=await consent_cases.history(uow, participant),
        devices={d.id: d for d in devices},
        periods=await uow.devices.periods([d.id for d in devices]),
        batch_id=batch_id,
        received_at=uow.clock.now(),
        device_time=ctx.origin.device_time,
    )


def _batch_change(
    ctx: RequestContext,
    role: Role,
    participant: Participant,
    *,
    batch_id: uuid.UUID,
    stored: list[StoredReading],
    outcomes: list[ItemOutcome],
) -> audit.Change:
    """High-volume readings: one event per batch, with the count and a digest of the rows."""
    lines = sorted(
        json.dumps(r.reading.canonical(), sort_keys=True, separators=(",", ":")) for r in stored
    )
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return audit.Change(
        entity_type="ReadingBatch",
        entity_id=batch_id,
        action="received",
        fields=(
            audit.FieldChange(
                "accepted", None, sum(o.outcome is Outcome.ACCEPTED for o in outcomes)
            ),
            audit.FieldChange(
                "quarantined", None, sum(o.outcome is Outcome.QUARANTINED for o in outcomes)
            ),
            audit.FieldChange(
                "duplicates", None, sum(o.outcome is Outcome.DUPLICATE for o in outcomes)
            ),
            audit.FieldChange(
                "rejected", None, sum(o.outcome is Outcome.REJECTED for o in outcomes)
            ),
            audit.FieldChange(
                "kinds", None, audit.to_json(sorted({r.reading.kind.value for r in stored}))
            ),
            audit.FieldChange(
                "devices", None, audit.to_json(sorted({str(r.device_id) for r in stored}))
            ),
            audit.FieldChange("digest", None, f"sha256:{digest}"),
        ),
        actor=ctx.actor,
        role=role,
        origin=ctx.origin,
        subject=audit.Subject(participant.study_id, participant.site_id, participant.id),
    )


def reading_scope(reading: StoredReading) -> Scope:
    return Scope(reading.study_id, reading.site_id, reading.participant_id)


async def page(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    filters: ReadingFilter,
    request: PageRequest,
) -> Page[StoredReading]:
    async with uow:
        found = await uow.participants.get(participant_id)
        access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        return await uow.readings.page(participant_id, filters, request)


async def daily(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    kind: ReadingKind,
    first: date,
    last: date,
) -> Sequence[DailySummary]:
    """Per local day, count, minimum, maximum and mean per component of accepted readings.

    Each reading counts for its date in the zone the participant was in when it was taken
    (their zone history), so a trip abroad does not move earlier days' readings.
    """
    if (last - first).days > 366 or last < first:
        raise DomainError(ErrorCode.VALIDATION_FAILED, "Ask for 1 to 366 days.", field="last")
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        zones = await uow.participants.zones(participant.id)
        return await uow.readings.daily(participant.id, kind, zones, first, last)


async def delete(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    reading_id: uuid.UUID,
    reason: str,
    code: ReasonCode | str | None = None,
) -> StoredReading:
    """A logical delete by site staff: the row stays, flagged, with the reason and who did it,
    and the reason code (OTHER when a client sends only the free text)."""
    why = audit.normalise_reason(reason)
    if why is None:
        raise DomainError(
            ErrorCode.REASON_REQUIRED, "Deleting a reading needs a reason.", field="reason"
        )
    async with uow:
        found = await uow.readings.get(reading_id)
        reading = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, reading_scope, "Reading"
        )
        grant = access.require(ctx.actor, Permission.DATA_CORRECT, reading_scope(reading))
        await require_open(uow, reading.study_id)
        why_code = await reason_codes.or_other(uow, reading.study_id, code)
        deleted = reading.deleted(why, uow.clock.now())
        await uow.readings.update(deleted)
        removal = audit.Change(
            entity_type=reading.ENTITY,
            entity_id=reading.id,
            action="deleted",
            fields=(audit.FieldChange("deleted_at", None, audit.to_json(deleted.deleted_at)),),
            actor=ctx.actor,
            role=grant.role,
            origin=ctx.origin,
            subject=audit.Subject(reading.study_id, reading.site_id, reading.participant_id),
            reason=why,
        )
        uow.record(coded(removal, why_code))
        await uow.commit()
    return deleted
