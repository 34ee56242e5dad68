"""Device readings as the format writers read them: one flat row of ready-made text each.

A study's readings are nearly all of an export's rows, so they are not rebuilt as domain
objects (a `StoredReading` with its `Reading`, `Measurement`s and Decimals costs several
times what writing the row does). The SQL snapshot has PostgreSQL render each row's text
(`infra/exports/reading_query.py`); `reading_row` renders a `StoredReading` to the very same
text, for in-memory snapshots. Text, not values: what every format writes is these strings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from typing import NamedTuple

from domain.devices import ReadingStatus, StoredReading
from domain.readings import SPECS


class ReadingRow(NamedTuple):
    """One stored reading. Times are ISO 8601 exactly as `datetime.isoformat()` writes them
    (microseconds only when there are any), in the device's own offset; values are plain
    decimal text (never an exponent), canonical ones with the kind's places ("72.000")."""

    id: str
    device_id: str
    batch_id: str
    kind: str  # a ReadingKind value
    start: str  # effective time, or an interval's start
    end: str  # an interval's end; "" for a point in time
    source_id: str  # the device's own record id
    received: str  # server receipt, UTC
    device_time: str  # the device's clock when it sent it; "" when unknown
    status: str  # a ReadingStatus value
    quarantine_code: str  # "" when never quarantined
    consent_superseded: bool
    deleted: bool
    reviewed: bool
    value: str  # first component (SPECS order): canonical value, unit, as sent, unit as sent
    unit: str
    original_value: str
    original_unit: str
    value2: str  # second component (blood pressure's diastolic); "" for one-component kinds
    unit2: str
    original_value2: str
    original_unit2: str

    @property
    def accepted(self) -> bool:
        """Analysis data: accepted at receipt or on review."""
        return self.status == ACCEPTED

    def components(self) -> tuple[tuple[str, str, str, str], ...]:
        first = (self.value, self.unit, self.original_value, self.original_unit)
        if not self.value2:
            return (first,)
        return first, (self.value2, self.unit2, self.original_value2, self.original_unit2)


ACCEPTED = ReadingStatus.ACCEPTED.value
Batches = Callable[[], AsyncIterator[Sequence[ReadingRow]]]


def plain(value: Decimal) -> str:
    """Decimal text as `format(value, "f")`: exact digits, never an exponent."""
    return format(value, "f")


def _stamp(moment: object) -> str:
    return "" if moment is None else moment.isoformat()  # type: ignore[attr-defined]


def reading_row(stored: StoredReading) -> ReadingRow:
    reading = stored.reading
    parts = [
        (plain(m.value), m.unit, plain(m.original_value), m.original_unit)
        for m in (reading.components[c.name] for c in SPECS[reading.kind].components)
    ]
    second = parts[1] if len(parts) > 1 else ("", "", "", "")
    return ReadingRow(
        str(stored.id),
        str(stored.device_id),
        str(stored.batch_id),
        reading.kind.value,
        reading.effective_start.isoformat(),
        _stamp(reading.effective_end),
        reading.source_id,
        stored.received_at.isoformat(),
        _stamp(reading.device_time),
        stored.status.value,
        stored.quarantine_code or "",
        stored.consent_superseded,
        stored.deleted_at is not None,
        stored.reviewed_at is not None,
        *parts[0],
        *second,
    )


def batches_of(
    readings: Callable[[], AsyncIterator[StoredReading]], size: int = 2000
) -> AsyncIterator[list[ReadingRow]]:
    """Domain readings as batches of rows: what an in-memory snapshot streams."""

    async def batches() -> AsyncIterator[list[ReadingRow]]:
        batch: list[ReadingRow] = []
        async for stored in readings():
            batch.append(reading_row(stored))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    return batches()
