"""Repository for device readings: bulk insert through COPY, keyset pages, daily summaries."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    Date,
    DateTime,
    Numeric,
    Select,
    String,
    cast,
    column,
    func,
    select,
    text,
    update,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain.devices import DailySummary, ReadingStatus, StoredReading
from domain.errors import DomainError, ErrorCode
from domain.ids import DeviceId, ParticipantId, SiteId, StudyId
from domain.pagination import Page, PageRequest
from domain.readings import Measurement, Reading, ReadingKind
from domain.records import ReadingFilter
from domain.schedules import ZoneChange, ZonePeriod, zone_periods
from infra.db.data_keys import FieldCipher
from infra.db.keyset import keyset_page
from infra.db.offsets import in_offset, offset_of, optional_offset
from infra.db.tables import ReadingRow

_TABLE = ReadingRow.__table__  # type: ignore[attr-defined]
_NUMERIC = Numeric(18, 3)
_TIMESTAMP = DateTime(timezone=True)
_DAWN = datetime(1, 1, 2, tzinfo=UTC)  # open ends of the first and last zone periods
_DUSK = datetime(9999, 12, 30, tzinfo=UTC)
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
# Columns added later: defaulted in the table, so loaders that COPY READING_COLUMNS still work.
_INTAKE_COLUMNS = (
    "status",
    "quarantine_code",
    "consent_superseded",
    "device_time_offset",
    "effective_end_offset",
)
_COLUMNS = READING_COLUMNS + _INTAKE_COLUMNS
# Why COPY into a staging table: COPY is the fastest way in (no per-row statements), and the
# INSERT ... SELECT ... ON CONFLICT DO NOTHING that follows makes the batch idempotent and
# tells which rows were new, all inside the caller's transaction.
_STAGE = "reading_stage"
_CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (LIKE device_readings) ON COMMIT DELETE ROWS"
)
_LIST = ", ".join(_COLUMNS)  # constants only: nothing from input reaches this SQL
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
        offset_of(reading.effective_start),
        reading.source_id,
        orjson.dumps(components).decode(),
        primary,
        r.received_at,
        reading.device_time,
        r.clock_skewed,
        r.batch_id,
        r.version,
        r.status.value,
        r.quarantine_code,
        r.consent_superseded,
        optional_offset(reading.device_time),
        optional_offset(reading.effective_end),
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
            _STAGE, records=[_record(r) for r in readings], columns=_COLUMNS
        )
        inserted = {row["id"] for row in await driver.fetch(_MOVE)} if store else set()
        if len(inserted) == len(readings):  # all new (the usual upload): nothing to match
            return inserted, {}
        stored = {row["staged_id"]: stored_reading(_Row(row)) for row in await driver.fetch(_MATCH)}
        return inserted, stored

    async def get(self, reading_id: uuid.UUID) -> StoredReading | None:
        row = (await self._db.execute(select(_TABLE).where(_TABLE.c.id == reading_id))).first()
        return stored_reading(row) if row else None

    async def update(self, reading: StoredReading) -> None:
        result = await self._db.execute(
            update(_TABLE)
            .where(_TABLE.c.id == reading.id, _TABLE.c.version == reading.version - 1)
            .values(
                deleted_at=reading.deleted_at,
                deleted_reason_sealed=await self._seal(reading, "deleted_reason"),
                status=reading.status.value,
                reviewed_at=reading.reviewed_at,
                reviewed_by=reading.reviewed_by,
                review_reason_sealed=await self._seal(reading, "review_reason"),
                version=reading.version,
            )
            .returning(_TABLE.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The reading changed meanwhile; reload and retry."
            )

    async def _seal(self, reading: StoredReading, column: str) -> bytes | None:
        text_ = getattr(reading, column)
        if not text_:
            return None
        return await self._cipher.seal(
            reading.participant_id, "device_readings", column, reading.id, text_
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
            query = query.where(
                _TABLE.c.deleted_at.is_(None), _TABLE.c.status != ReadingStatus.REJECTED.value
            )
        return await self._keyset(query, request)

    async def quarantined(
        self, site_id: SiteId, participant_id: ParticipantId | None, request: PageRequest
    ) -> Page[StoredReading]:
        query = select(_TABLE).where(
            _TABLE.c.site_id == site_id, _TABLE.c.status == ReadingStatus.QUARANTINED.value
        )
        if participant_id is not None:
            query = query.where(_TABLE.c.participant_id == participant_id)
        return await self._keyset(query, request)

    async def _keyset(self, query: Select[Any], request: PageRequest) -> Page[StoredReading]:
        """By effective start, then id; the cursor is that pair."""
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
        zones: Sequence[ZoneChange],
        first: date,
        last: date,
    ) -> Sequence[DailySummary]:
        # Each reading is dated in the zone the participant was in when it was taken: the
        # zone history as a small VALUES table, joined on the period holding the reading.
        periods = zone_periods(zones) if zones else [ZonePeriod(None, None, "UTC")]
        held = values(
            column("since", _TIMESTAMP),
            column("until", _TIMESTAMP),
            column("zone", String()),
            name="zones",
        ).data([(p.since or _DAWN, p.until or _DUSK, p.timezone) for p in periods])
        local_day = cast(func.timezone(held.c.zone, _TABLE.c.effective_start), Date).label("day")
        component = func.jsonb_each(_TABLE.c.components).table_valued("key", "value").alias("c")
        value = cast(component.c.value.op("->>")("value"), type_=_NUMERIC)
        # No offset in the tz database reaches 2 days: a cheap bound before the join.
        start = datetime.combine(first - timedelta(days=2), time(), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=3), time(), tzinfo=UTC)
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
            .select_from(
                _TABLE.join(
                    held,
                    (_TABLE.c.effective_start >= held.c.since)
                    & (_TABLE.c.effective_start < held.c.until),
                ).join(component, text("true"))
            )
            .where(
                _TABLE.c.participant_id == participant_id,
                _TABLE.c.kind == kind.value,
                _TABLE.c.deleted_at.is_(None),
                _TABLE.c.status == ReadingStatus.ACCEPTED.value,
                _TABLE.c.effective_start >= start,
                _TABLE.c.effective_start < end,
                local_day.between(first, last),
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
        effective_start=in_offset(row.effective_start, row.effective_offset),
        effective_end=in_offset(row.effective_end, row.effective_end_offset)
        if row.effective_end
        else None,
        device_time=in_offset(row.device_time, row.device_time_offset) if row.device_time else None,
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
        status=ReadingStatus(row.status),
        quarantine_code=row.quarantine_code,
        consent_superseded=row.consent_superseded,
        reviewed_at=row.reviewed_at,
        reviewed_by=row.reviewed_by,
        version=row.version,
    )
