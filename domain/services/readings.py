"""Use cases for device readings: batch ingestion with per-item outcomes, reads, deletion."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import ActorKind, RequestContext, Role
from domain.consent import ensure_can_collect
from domain.devices import Assignment, DailySummary, StoredReading
from domain.diaries import Outcome
from domain.errors import DomainError, ErrorCode, Forbidden, NotFound, Unauthenticated
from domain.ids import DeviceId, ParticipantId, new_id
from domain.pagination import Page, PageRequest
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.readings import Reading, ReadingKind, ReadingRejected, parse_reading, skew_flag
from domain.records import ReadingFilter
from domain.services.participants import participant_scope

MAX_BATCH = 50_000
UNKNOWN_DEVICE = "UNKNOWN_DEVICE"
SOURCE_ID_CONFLICT = "SOURCE_ID_CONFLICT"


@dataclass(frozen=True)
class ItemOutcome:
    index: int
    outcome: Outcome
    code: str | None = None
    field: str | None = None
    message: str | None = None
    reading_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Ingested:
    batch_id: uuid.UUID
    items: list[ItemOutcome]

    def count(self, outcome: Outcome) -> int:
        return sum(item.outcome is outcome for item in self.items)


def _dedup_key(device: uuid.UUID, reading: Reading) -> tuple[object, ...]:
    """A reading's identity: the device's record of one measurement. Assignment periods
    make every device record belong to one participant."""
    return (device, reading.kind, reading.effective_key, reading.source_id)


async def ingest(*, uow: UnitOfWork, ctx: RequestContext, items: Sequence[object]) -> Ingested:
    """Readings from the participant's app: each item ACCEPTED, DUPLICATE or REJECTED.

    Rows go in with one bulk statement; one audit event records the batch (count and digest).
    """
    actor = ctx.actor
    if actor.kind is ActorKind.ANONYMOUS:
        raise Unauthenticated
    if actor.kind is not ActorKind.PARTICIPANT or actor.id is None:
        raise Forbidden("Readings come from the participant's app.")
    if len(items) > MAX_BATCH:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, f"At most {MAX_BATCH} readings a batch.", field="items"
        )
    batch_id = new_id()
    async with uow:
        participant = await uow.participants.get(ParticipantId(actor.id))
        if participant is None:
            raise NotFound("Participant")
        grant = access.require(actor, Permission.DATA_SUBMIT, participant_scope(participant))
        received_at = uow.clock.now()
        refused: DomainError | None = None
        try:
            latest = await uow.consents.latest_version(participant.study_id)
            ensure_can_collect(
                participant, latest, await uow.consents.latest_consent(participant.id)
            )
        except DomainError as error:  # new readings are refused; resends still get DUPLICATE
            refused = error
        held = await uow.devices.assignments_of(participant.id)
        # Checking thousands of readings is CPU work: in a thread, so the server's other
        # requests are not held up behind a large upload.
        outcomes, rows = await asyncio.to_thread(
            _sort_items,
            items,
            participant,
            held,
            batch_id=batch_id,
            received_at=received_at,
            ctx=ctx,
        )
        inserted, stored = (
            await uow.readings.add_batch(rows, store=refused is None) if rows else (set(), {})
        )
        by_id = {r.id: r for r in rows}
        final = [_settled(o, by_id, inserted, stored, refused) for o in outcomes]
        kept = [r for r in rows if r.id in inserted]
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
        await uow.commit()
    return Ingested(batch_id, final)


def _sort_items(
    items: Sequence[object],
    participant: Participant,
    held: Sequence[Assignment],
    *,
    batch_id: uuid.UUID,
    received_at: datetime,
    ctx: RequestContext,
) -> tuple[list[ItemOutcome], list[StoredReading]]:
    outcomes: list[ItemOutcome] = []
    rows: list[StoredReading] = []
    seen: dict[tuple[object, ...], StoredReading] = {}
    for index, item in enumerate(items):
        try:
            reading = parse_reading(item, now=received_at)
        except ReadingRejected as rejected:
            outcomes.append(
                ItemOutcome(
                    index, Outcome.REJECTED, rejected.code.value, rejected.field, rejected.message
                )
            )
            continue
        device_id = _device_id(item)
        holding = next((a for a in held if a.device.id == device_id and a.covers(reading)), None)
        if holding is None:
            outcomes.append(
                ItemOutcome(
                    index,
                    Outcome.REJECTED,
                    UNKNOWN_DEVICE,
                    "deviceId",
                    "The device was not assigned to you for this kind of reading at that time.",
                )
            )
            continue
        key = _dedup_key(holding.device.id, reading)
        if key in seen:  # the same record twice in one batch
            outcomes.append(_again(index, seen[key], reading))
            continue
        row = StoredReading(
            id=new_id(),
            participant_id=participant.id,
            device_id=holding.device.id,
            study_id=participant.study_id,
            site_id=participant.site_id,
            reading=reading,
            received_at=received_at,
            clock_skewed=skew_flag(reading.device_time or ctx.origin.device_time, received_at),
            batch_id=batch_id,
        )
        seen[key] = row
        rows.append(row)
        outcomes.append(ItemOutcome(index, Outcome.ACCEPTED, reading_id=row.id))
    return outcomes, rows


def _again(index: int, stored: StoredReading, reading: Reading) -> ItemOutcome:
    """A reading with a stored one's identity: a duplicate if it says the same, else refused
    (never silently dropped, never silently overwritten)."""
    if stored.reading.same_measurement(reading):
        return ItemOutcome(index, Outcome.DUPLICATE, reading_id=stored.id)
    return ItemOutcome(
        index,
        Outcome.REJECTED,
        SOURCE_ID_CONFLICT,
        "sourceId",
        "A reading with this device, kind, time and sourceId was stored with other values.",
    )


def _settled(
    outcome: ItemOutcome,
    rows: dict[uuid.UUID, StoredReading],
    inserted: set[uuid.UUID],
    stored: dict[uuid.UUID, StoredReading],
    refused: DomainError | None,
) -> ItemOutcome:
    if outcome.outcome is not Outcome.ACCEPTED or outcome.reading_id in inserted:
        return outcome
    rid = outcome.reading_id
    if rid is not None and rid in stored:
        return _again(outcome.index, stored[rid], rows[rid].reading)
    if refused is not None:
        return ItemOutcome(
            outcome.index, Outcome.REJECTED, refused.code.value, message=refused.message
        )
    raise AssertionError("a reading was neither inserted nor found")  # the port's contract


def _device_id(item: object) -> DeviceId | None:
    raw = item.get("deviceId") if isinstance(item, dict) else None
    try:
        return DeviceId(uuid.UUID(str(raw))) if raw is not None else None
    except ValueError:
        return None


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
            audit.FieldChange("accepted", None, len(stored)),
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
    """Per day in the participant's time zone: count, minimum, maximum and mean per component."""
    if (last - first).days > 366 or last < first:
        raise DomainError(ErrorCode.VALIDATION_FAILED, "Ask for 1 to 366 days.", field="last")
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        return await uow.readings.daily(participant.id, kind, participant.timezone, first, last)


async def delete(
    *, uow: UnitOfWork, ctx: RequestContext, reading_id: uuid.UUID, reason: str
) -> StoredReading:
    """A logical delete by site staff: the row stays, flagged, with the reason and who did it."""
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
        deleted = reading.deleted(why, uow.clock.now())
        await uow.readings.update(deleted)
        uow.record(
            audit.Change(
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
        )
        await uow.commit()
    return deleted
