"""Repository for device readings: bulk insert through COPY, keyset pages, daily summaries."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, Numeric, cast, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.devices import DailySummary, StoredReading
from domain.errors import DomainError, ErrorCode
from domain.ids import DeviceId, ParticipantId, SiteId, StudyId
from domain.pagination import Page, PageRequest
from domain.readings import Measurement, Reading, ReadingKind
from domain.records import ReadingFilter
from infra.db.data_keys import FieldCipher
from infra.db.keyset import keyset_page
from infra.db.tables import ReadingRow

_TABLE = ReadingRow.__table__  # type: ignore[attr-defined]
_NUMERIC = Numeric(18, 3)
_TIMESTAMP = DateTime()
READING_COLUMNS = (
    "id",
    "participant_id",
    "device_id",
    "study_id",
    "site_id",
    "kind",
    "effective_start",
    "effective_end",
    "effective_offset",
    "source_id",
    "components",
    "primary_value",
    "received_at",
    "device_time",
    "clock_skewed",
    "batch_id",
    "version",
)
# Why COPY into a staging table: COPY is the fastest way in (no per-row statements), and the
# INSERT ... SELECT ... ON CONFLICT DO NOTHING that follows makes the batch idempotent and
# tells which rows were new, all inside the caller's transaction.
_STAGE = "reading_stage"
_CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (LIKE device_readings) ON COMMIT DELETE ROWS"
)
_LIST = ", ".join(READING_COLUMNS)  # constants only: nothing from input reaches this SQL
_KEY = "device_id, kind, effective_start, source_id"
# Key order: concurrent batches that overlap lock rows in the same order, never deadlock.
_MOVE = (
    f"INSERT INTO device_readings ({_LIST}) SELECT {_LIST} FROM {_STAGE} "  # noqa: S608
    f"ORDER BY {_KEY} ON CONFLICT ({_KEY}) DO NOTHING RETURNING id"
)
# The stored counterpart of every staged reading that was not inserted.
_MATCH = (
    f"SELECT s.id AS staged_id, d.* FROM {_STAGE} s JOIN device_readings d "  # noqa: S608
    "USING (device_id, kind, effective_start, source_id) WHERE d.id <> s.id"
)


def _record(r: StoredReading) -> tuple[Any, ...]:
    reading = r.reading
    components = {name: m.canonical() for name, m in reading.components.items()}
    primary = next(iter(reading.components.values())).value
    return (
        r.id,
        r.participant_id,
        r.device_id,
        r.study_id,
        r.site_id,
        reading.kind.value,
        reading.effective_start,
        reading.effective_end,
        reading.effective_start.isoformat()[-6:],
        reading.source_id,
        json.dumps(components),
        primary,
        r.received_at,
        reading.device_time,
        r.clock_skewed,
        r.batch_id,
        r.version,
    )


class _Row:
    """Attribute access to an asyncpg record, as the row mapper expects."""

    def __init__(self, record: Any) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return self._record[name]


class SqlReadingRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    async def add_batch(
        self, readings: Sequence[StoredReading], *, store: bool = True
    ) -> tuple[set[uuid.UUID], dict[uuid.UUID, StoredReading]]:
        connection = await self._db.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection  # the asyncpg connection of this transaction
        await driver.execute(_CREATE_STAGE)
        await driver.execute(f"TRUNCATE {_STAGE}")
        await driver.copy_records_to_table(
            _STAGE, records=[_record(r) for r in readings], columns=READING_COLUMNS
        )
        inserted = {row["id"] for row in await driver.fetch(_MOVE)} if store else set()
        stored = {row["staged_id"]: stored_reading(_Row(row)) for row in await driver.fetch(_MATCH)}
        return inserted, stored

    async def get(self, reading_id: uuid.UUID) -> StoredReading | None:
        row = (await self._db.execute(select(_TABLE).where(_TABLE.c.id == reading_id))).first()
        return stored_reading(row) if row else None

    async def update(self, reading: StoredReading) -> None:
        reason = (
            await self._cipher.seal(
                reading.participant_id,
                "device_readings",
                "deleted_reason",
                reading.id,
                reading.deleted_reason,
            )
            if reading.deleted_reason
            else None
        )
        result = await self._db.execute(
            update(_TABLE)
            .where(_TABLE.c.id == reading.id, _TABLE.c.version == reading.version - 1)
            .values(
                deleted_at=reading.deleted_at, deleted_reason_sealed=reason, version=reading.version
            )
            .returning(_TABLE.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The reading changed meanwhile; reload and retry."
            )

    async def page(
        self, participant_id: ParticipantId, filters: ReadingFilter, request: PageRequest
    ) -> Page[StoredReading]:
        query = select(_TABLE).where(_TABLE.c.participant_id == participant_id)
        if filters.kind is not None:
            query = query.where(_TABLE.c.kind == filters.kind.value)
        if filters.since is not None:
            query = query.where(_TABLE.c.effective_start >= filters.since)
        if filters.until is not None:
            query = query.where(_TABLE.c.effective_start < filters.until)
        if not filters.include_deleted:
            query = query.where(_TABLE.c.deleted_at.is_(None))
        found = await keyset_page(
            self._db,
            query,
            [_TABLE.c.effective_start, _TABLE.c.id],
            [datetime.fromisoformat, uuid.UUID],
            request,
        )
        return found.with_items([stored_reading(r) for r in found.items])

    async def daily(
        self,
        participant_id: ParticipantId,
        kind: ReadingKind,
        timezone: str,
        first: date,
        last: date,
    ) -> Sequence[DailySummary]:
        local_day = cast(func.timezone(timezone, _TABLE.c.effective_start), Date).label("day")
        component = func.jsonb_each(_TABLE.c.components).table_valued("key", "value").alias("c")
        value = cast(component.c.value.op("->>")("value"), type_=_NUMERIC)
        query = (
            select(
                local_day,
                component.c.key,
                func.min(component.c.value.op("->>")("unit")),
                func.count(),
                func.min(value),
                func.max(value),
                func.avg(value),
            )
            .select_from(_TABLE.join(component, text("true")))
            .where(
                _TABLE.c.participant_id == participant_id,
                _TABLE.c.kind == kind.value,
                _TABLE.c.deleted_at.is_(None),
                _TABLE.c.effective_start >= func.timezone(timezone, cast(first, _TIMESTAMP)),
                _TABLE.c.effective_start
                < func.timezone(timezone, cast(last + timedelta(days=1), _TIMESTAMP)),
            )
            .group_by(local_day, component.c.key)
            .order_by(local_day, component.c.key)
        )
        rows = await self._db.execute(query)
        return [
            DailySummary(
                day=r[0],
                kind=kind,
                component=r[1],
                unit=r[2],
                count=r[3],
                minimum=r[4],
                maximum=r[5],
                mean=Decimal(r[6]).quantize(Decimal("0.001")),
            )
            for r in rows
        ]


def stored_reading(row: Any) -> StoredReading:
    offset = datetime.fromisoformat(f"2000-01-01T00:00:00{row.effective_offset}").tzinfo
    raw = row.components
    parts = json.loads(raw) if isinstance(raw, str) else raw
    components = {
        name: Measurement(
            Decimal(c["value"]), c["unit"], Decimal(c["original_value"]), c["original_unit"]
        )
        for name, c in parts.items()
    }
    reading = Reading(
        kind=ReadingKind(row.kind),
        source_id=row.source_id,
        components=components,
        effective_start=row.effective_start.astimezone(offset),
        effective_end=row.effective_end.astimezone(offset) if row.effective_end else None,
        device_time=row.device_time,
    )
    return StoredReading(
        id=row.id,
        participant_id=ParticipantId(row.participant_id),
        device_id=DeviceId(row.device_id),
        study_id=StudyId(row.study_id),
        site_id=SiteId(row.site_id),
        reading=reading,
        received_at=row.received_at,
        clock_skewed=row.clock_skewed,
        batch_id=row.batch_id,
        deleted_at=row.deleted_at,
        deleted_reason=None,
        version=row.version,
    )
