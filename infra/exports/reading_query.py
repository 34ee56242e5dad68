"""A participant's readings as `ReadingRow`s, rendered by PostgreSQL and read through a cursor.

PostgreSQL formats every timestamp in its stored offset exactly as `datetime.isoformat()`
does and picks each component out of the JSON, in C, in its own process: the export only
joins strings. The cursor runs inside the snapshot's REPEATABLE READ transaction, so it sees
the same state as everything else the export reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from domain.readings import SPECS
from infra.exports.readings import ReadingRow

BATCH = 2000  # rows fetched per round trip, and handed to the writers at once


def _iso(column: str, offset: str) -> str:
    """`column` (timestamptz) in the offset stored beside it ("+HH:MM"; NULL means UTC), as
    ISO 8601 with microseconds only when there are any."""
    zone = f"COALESCE({offset}, '+00:00')"
    local = f"({column} AT TIME ZONE 'UTC') + {zone}::interval"
    micros = f"(EXTRACT(MICROSECONDS FROM {column})::bigint % 1000000)"
    return (
        f"CASE WHEN {column} IS NULL THEN '' ELSE"
        f" to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN {micros} = 0 THEN '' ELSE '.' || lpad({micros}::text, 6, '0') END"
        f" || {zone} END"
    )


def _component(position: int) -> str:
    """The JSON of the kind's `position`-th component (SPECS order), NULL when it has none."""
    names = {
        kind.value: spec.components[position].name
        for kind, spec in SPECS.items()
        if len(spec.components) > position
    }
    cases = " ".join(f"WHEN '{kind}' THEN '{name}'" for kind, name in names.items())
    return f"components -> (CASE kind {cases} END)"


def _parts(position: int) -> list[str]:
    part = _component(position)
    # numeric::text never writes an exponent, like format(value, "f")
    return [
        f"COALESCE(({part} ->> 'value')::numeric::text, '')",
        f"COALESCE({part} ->> 'unit', '')",
        f"COALESCE(({part} ->> 'original_value')::numeric::text, '')",
        f"COALESCE({part} ->> 'original_unit', '')",
    ]


# Constants and generated names only: nothing from input reaches this SQL.
QUERY = (
    "SELECT id::text, device_id::text, batch_id::text, kind, "  # noqa: S608
    + _iso("effective_start", "effective_offset")
    + ", "
    + _iso("effective_end", "effective_end_offset")
    + ", source_id, "
    + _iso("received_at", "NULL")
    + ", "
    + _iso("device_time", "device_time_offset")
    + ", status, COALESCE(quarantine_code, ''), consent_superseded,"
    " deleted_at IS NOT NULL, reviewed_at IS NOT NULL, "
    + ", ".join(_parts(0) + _parts(1))
    + " FROM device_readings WHERE participant_id = $1 ORDER BY effective_start, id"
)


async def reading_batches(
    driver: Any, participant_id: object
) -> AsyncIterator[Sequence[ReadingRow]]:
    """`driver`: the asyncpg connection of the snapshot's transaction.

    The next batch is asked for before the current one is handed over: PostgreSQL renders
    and sends it while the writers format this one, instead of each waiting for the other."""
    make = ReadingRow._make
    cursor = await driver.cursor(QUERY, participant_id)
    ahead: asyncio.Future[Any] | None = asyncio.ensure_future(cursor.fetch(BATCH))
    try:
        while ahead is not None:
            records = await ahead
            ahead = None
            if len(records) == BATCH:
                ahead = asyncio.ensure_future(cursor.fetch(BATCH))
                await asyncio.sleep(0)  # let the request go out before the formatting starts
            if records:
                yield [make(record) for record in records]
    finally:
        if ahead is not None:
            await ahead  # the connection serves one query at a time: let this one finish
