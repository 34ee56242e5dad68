"""In-memory fakes of the devices ports, for fast unit tests of the rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

from domain.devices import Assignment, DailySummary, Device, ReadingStatus, StoredReading
from domain.ids import (
    DeviceId,
    ParticipantId,
    SiteId,
)
from domain.pagination import Page, PageRequest
from domain.readings import ReadingKind
from domain.records import ReadingFilter
from domain.schedules import ZoneChange
from tests.paging import keyset_window


class FakeDevices:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Device] = {}
        self.held: list[tuple[DeviceId, ParticipantId, datetime, datetime | None]] = []

    async def add(self, device: Device) -> None:
        self.rows[device.id] = device

    async def get(self, device_id: DeviceId) -> Device | None:
        return self.rows.get(device_id)

    async def get_many(self, device_ids: Sequence[DeviceId]) -> Sequence[Device]:
        return [self.rows[d] for d in device_ids if d in self.rows]

    async def update(self, device: Device) -> None:
        self.rows[device.id] = device

    async def periods(self, device_ids: Sequence[DeviceId]) -> Sequence[Assignment]:
        return [
            Assignment(self.rows[d], p, since, until)
            for d, p, since, until in self.held
            if d in device_ids
        ]

    async def assigned_to(self, participant_id: ParticipantId) -> Sequence[Device]:
        return [d for d in self.rows.values() if d.participant_id == participant_id]

    async def at_site(self, site_id: SiteId) -> Sequence[Device]:
        return [d for d in self.rows.values() if d.site_id == site_id]

    async def assignments_of(self, participant_id: ParticipantId) -> Sequence[Assignment]:
        return [
            Assignment(self.rows[d], p, since, until)
            for d, p, since, until in self.held
            if p == participant_id
        ]

    async def open_assignment(
        self, device_id: DeviceId, participant_id: ParticipantId, at: datetime
    ) -> None:
        self.held.append((device_id, participant_id, at, None))

    async def close_assignment(self, device_id: DeviceId, at: datetime) -> None:
        self.held = [
            (d, p, since, at if d == device_id and until is None else until)
            for d, p, since, until in self.held
        ]


class FakeReadings:
    """Deduplicates like the database's unique key does."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, StoredReading] = {}

    async def add_batch(
        self, readings: Sequence[StoredReading], *, store: bool = True
    ) -> tuple[set[uuid.UUID], dict[uuid.UUID, StoredReading]]:
        by_key = {self._key(r): r for r in self.rows.values()}
        new, found = set(), {}
        for reading in sorted(readings, key=self._key):
            existing = by_key.get(self._key(reading))
            if existing is not None:
                found[reading.id] = existing
            elif store:
                by_key[self._key(reading)] = reading
                self.rows[reading.id] = reading
                new.add(reading.id)
        return new, found

    @staticmethod
    def _key(r: StoredReading) -> tuple[str, str, str, str]:
        return (
            str(r.device_id),
            r.reading.kind.value,
            r.reading.effective_key.astimezone(UTC).isoformat(),
            r.reading.source_id,
        )

    async def get(self, reading_id: uuid.UUID) -> StoredReading | None:
        return self.rows.get(reading_id)

    async def update(self, reading: StoredReading) -> None:
        self.rows[reading.id] = reading

    async def page(
        self, participant_id: ParticipantId, filters: ReadingFilter, request: PageRequest
    ) -> Page[StoredReading]:
        rows = (
            r
            for r in self.rows.values()
            if r.participant_id == participant_id
            and (
                filters.include_deleted
                or (r.deleted_at is None and r.status is not ReadingStatus.REJECTED)
            )
        )
        return keyset_window(
            rows,
            lambda r: (r.reading.effective_start, r.id),
            [datetime.fromisoformat, uuid.UUID],
            request,
        )

    async def quarantined(
        self, site_id: SiteId, participant_id: ParticipantId | None, request: PageRequest
    ) -> Page[StoredReading]:
        rows = (
            r
            for r in self.rows.values()
            if r.site_id == site_id
            and r.status is ReadingStatus.QUARANTINED
            and participant_id in (None, r.participant_id)
        )
        return keyset_window(
            rows,
            lambda r: (r.reading.effective_start, r.id),
            [datetime.fromisoformat, uuid.UUID],
            request,
        )

    async def daily(
        self,
        participant_id: ParticipantId,
        kind: ReadingKind,
        zones: Sequence[ZoneChange],
        first: date,
        last: date,
    ) -> Sequence[DailySummary]:
        return []
