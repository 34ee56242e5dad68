"""What becomes of each reading a participant's app sends, decided before anything is stored.

Each item is checked (shape, unit, plausibility, time: domain.reading_parse), attributed to whoever
held its device at its effective time (domain.devices.attribute), judged by the consent in
force when it was taken (domain.consent), and deduplicated within the batch. It becomes a row
to store (accepted or quarantined), a row only to look up (refused, yet a resend of a reading
already stored still hears DUPLICATE), or a refusal with a code. Pure and synchronous: the use
case runs it in a thread, since a bulk upload is CPU work.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.consent import CONSENT_SUPERSEDED, ConsentHistory
from domain.device_time import collected_at, skew_flag
from domain.devices import Assignment, Device, DeviceCode, ReadingStatus, StoredReading, attribute
from domain.errors import ErrorCode
from domain.ids import DeviceId, new_id
from domain.intake import ItemCode, Outcome
from domain.participants import Participant
from domain.reading_parse import ReadingRejected, parse_reading
from domain.readings import Reading

SOURCE_ID_CONFLICT = ItemCode.SOURCE_ID_CONFLICT
MAX_DEVICES = 100  # distinct devices looked up per batch; a participant holds a handful

_MESSAGES = {
    DeviceCode.UNKNOWN_DEVICE: ("deviceId", "There is no such device at your site."),
    DeviceCode.DEVICE_NOT_ASSIGNED: ("deviceId", "The device was not assigned to you then."),
    DeviceCode.KIND_NOT_SUPPORTED: ("kind", "The device is not registered for this kind."),
    DeviceCode.OUTSIDE_ASSIGNMENT: ("deviceId", "The device was not assigned to you then."),
}
_QUARANTINED: Mapping[str, tuple[str | None, str]] = {
    DeviceCode.OUTSIDE_ASSIGNMENT: (
        "deviceId",
        "Kept for your site to review: the device was not assigned to anyone then.",
    ),
    CONSENT_SUPERSEDED: (None, "Kept for review: taken before you signed the new consent."),
}


@dataclass(frozen=True)
class ItemOutcome:
    index: int
    outcome: Outcome
    code: ItemCode | None = None
    field: str | None = None
    message: str | None = None
    reading_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Intake:
    """Everything the decisions need, loaded once per batch."""

    participant: Participant
    consent: ConsentHistory
    devices: Mapping[DeviceId, Device]  # the devices the batch names, found at all
    periods: Sequence[Assignment]  # every assignment period of those devices, to anyone
    batch_id: uuid.UUID
    received_at: datetime
    device_time: datetime | None = None  # the request's X-Device-Time


@dataclass
class Sorted:
    outcomes: list[ItemOutcome] = field(default_factory=list)
    rows: list[StoredReading] = field(default_factory=list)  # to store
    lookups: list[StoredReading] = field(default_factory=list)  # refused: only looked up
    refused: dict[uuid.UUID, ErrorCode] = field(default_factory=dict)  # lookups' codes


def device_ids(items: Sequence[object]) -> list[DeviceId]:
    """The distinct devices a batch names, in order, at most MAX_DEVICES."""
    found = dict.fromkeys(d for d in map(_device_id, items) if d is not None)
    return list(found)[:MAX_DEVICES]


def sort_items(items: Sequence[object], intake: Intake) -> Sorted:
    done = Sorted()
    seen: dict[tuple[object, ...], StoredReading] = {}
    for index, item in enumerate(items):
        try:
            reading = parse_reading(item, now=intake.received_at)
        except ReadingRejected as rejected:
            done.outcomes.append(
                ItemOutcome(
                    index, Outcome.REJECTED, rejected.code, rejected.field, rejected.message
                )
            )
            continue
        named = _device_id(item)
        device = intake.devices.get(named) if named is not None else None
        code = attribute(reading, intake.participant, device, intake.periods)
        if device is None or code not in (None, DeviceCode.OUTSIDE_ASSIGNMENT):
            done.outcomes.append(_refused_by_device(index, code or DeviceCode.UNKNOWN_DEVICE))
            continue
        row, refusal = _row(reading, device, code, intake)
        key = (device.id, reading.kind, reading.effective_key, reading.source_id)
        if key in seen:  # the same record twice in one batch
            done.outcomes.append(_again(index, seen[key], reading, intake.participant))
            continue
        seen[key] = row
        done.outcomes.append(_first(index, row, refusal, intake))
        if refusal is None:
            done.rows.append(row)
        else:
            done.lookups.append(row)
            done.refused[row.id] = refusal
    return done


def settle(
    outcome: ItemOutcome,
    done: Sorted,
    inserted: set[uuid.UUID],
    stored: Mapping[uuid.UUID, StoredReading],
    participant: Participant,
) -> ItemOutcome:
    """The final answer once the database said which rows were new and which existed."""
    rid = outcome.reading_id
    if rid is None or rid in inserted:
        return outcome
    if rid in stored:
        mine = next(r for r in (*done.rows, *done.lookups) if r.id == rid)
        return _again(outcome.index, stored[rid], mine.reading, participant)
    if rid in done.refused:
        refusal = done.refused[rid]
        return ItemOutcome(
            outcome.index, Outcome.REJECTED, ItemCode(refusal), message=_why(refusal)
        )
    raise AssertionError("a reading was neither inserted nor found")  # the port's contract


def _row(
    reading: Reading, device: Device, code: DeviceCode | None, intake: Intake
) -> tuple[StoredReading, ErrorCode | None]:
    """The reading as it would be kept, and the consent rules' refusal if there is one. An
    interval counts as collected when it ends."""
    sent = reading.device_time or intake.device_time
    moment = collected_at(
        reading.effective_end or reading.effective_start, sent, intake.received_at
    )
    judgement = intake.consent.judge(moment)
    quarantine = code.value if code is not None else judgement.quarantine
    participant = intake.participant
    row = StoredReading(
        id=new_id(),
        participant_id=participant.id,
        device_id=device.id,
        study_id=participant.study_id,
        site_id=participant.site_id,
        reading=reading,
        received_at=intake.received_at,
        clock_skewed=skew_flag(sent, intake.received_at),
        batch_id=intake.batch_id,
        status=ReadingStatus.QUARANTINED if quarantine else ReadingStatus.ACCEPTED,
        quarantine_code=quarantine,
        consent_superseded=judgement.superseded,
    )
    return row, judgement.refusal


def _first(
    index: int, row: StoredReading, refusal: ErrorCode | None, intake: Intake
) -> ItemOutcome:
    if refusal is not None:  # settled later: a resend of a stored reading is a duplicate
        return ItemOutcome(index, Outcome.REJECTED, ItemCode(refusal), reading_id=row.id)
    if row.quarantine_code is not None:
        field, message = _QUARANTINED[row.quarantine_code]
        return ItemOutcome(
            index,
            Outcome.QUARANTINED,
            ItemCode(row.quarantine_code),
            field,
            message,
            reading_id=row.id,
        )
    flag = ItemCode.RECONSENT_REQUIRED if intake.consent.reconsent_required else None
    return ItemOutcome(index, Outcome.ACCEPTED, flag, reading_id=row.id)


def _refused_by_device(index: int, code: DeviceCode) -> ItemOutcome:
    field, message = _MESSAGES[code]
    return ItemOutcome(index, Outcome.REJECTED, code, field, message)


def _again(
    index: int, stored: StoredReading, reading: Reading, participant: Participant
) -> ItemOutcome:
    """A reading with a stored one's identity: a duplicate if it says the same, else refused
    (never silently dropped, never silently overwritten, never another person's)."""
    if stored.participant_id != participant.id:
        return _refused_by_device(index, DeviceCode.DEVICE_NOT_ASSIGNED)
    if stored.reading.same_measurement(reading):
        kept = stored.quarantine_code if stored.status is ReadingStatus.QUARANTINED else None
        code = ItemCode(kept) if kept is not None else None
        return ItemOutcome(index, Outcome.DUPLICATE, code, reading_id=stored.id)
    return ItemOutcome(
        index,
        Outcome.REJECTED,
        SOURCE_ID_CONFLICT,
        "sourceId",
        "A reading with this device, kind, time and sourceId was stored with other values.",
    )


def _why(refusal: ErrorCode) -> str:
    if refusal is ErrorCode.CONSENT_REQUIRED:
        return "Taken before you signed the consent: not collected."
    return "Taken after your participation ended: not collected."


def _device_id(item: object) -> DeviceId | None:
    raw = item.get("deviceId") if isinstance(item, dict) else None
    try:
        return DeviceId(uuid.UUID(str(raw))) if raw is not None else None
    except ValueError:
        return None
