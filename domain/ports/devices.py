"""Ports for devices, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from domain.devices import Assignment, DailySummary, Device, StoredReading
from domain.ids import (
    DeviceId,
    ParticipantId,
    SiteId,
)
from domain.pagination import Page, PageRequest
from domain.readings import ReadingKind
from domain.records import ReadingFilter
from domain.schedules import ZoneChange


class DeviceRepository(Protocol):
    async def add(self, device: Device) -> None: ...
    async def get(self, device_id: DeviceId) -> Device | None: ...
    async def get_many(self, device_ids: Sequence[DeviceId]) -> Sequence[Device]: ...
    async def update(self, device: Device) -> None: ...
    async def assigned_to(self, participant_id: ParticipantId) -> Sequence[Device]: ...

    async def periods(self, device_ids: Sequence[DeviceId]) -> Sequence[Assignment]:
        """Every period in which these devices were held, by anyone."""
        ...

    async def assignments_of(self, participant_id: ParticipantId) -> Sequence[Assignment]:
        """Every period in which the participant held a device, current ones included."""
        ...

    async def open_assignment(
        self, device_id: DeviceId, participant_id: ParticipantId, at: datetime
    ) -> None: ...
    async def close_assignment(self, device_id: DeviceId, at: datetime) -> None: ...
    async def at_site(self, site_id: SiteId) -> Sequence[Device]: ...


class ReadingRepository(Protocol):
    async def add_batch(
        self, readings: Sequence[StoredReading], *, store: bool = True
    ) -> tuple[set[uuid.UUID], dict[uuid.UUID, StoredReading]]:
        """Insert the readings that are new, in key order, with one bulk statement.

        Returns the ids inserted, and for each reading not inserted the stored reading with
        the same identity (device, kind, effective start, source id). With `store=False`
        nothing is inserted: only the stored counterparts are looked up.
        """
        ...

    async def get(self, reading_id: uuid.UUID) -> StoredReading | None: ...

    async def update(self, reading: StoredReading) -> None:
        """Store a logical delete or a review; STALE_VERSION if it moved on."""
        ...

    async def page(
        self, participant_id: ParticipantId, filters: ReadingFilter, request: PageRequest
    ) -> Page[StoredReading]:
        """Accepted and quarantined readings by effective time (rejected and deleted ones with
        `include_deleted`)."""
        ...

    async def quarantined(
        self, site_id: SiteId, participant_id: ParticipantId | None, request: PageRequest
    ) -> Page[StoredReading]:
        """The site's readings waiting for review, by effective time."""
        ...

    async def daily(
        self,
        participant_id: ParticipantId,
        kind: ReadingKind,
        zones: Sequence[ZoneChange],
        first: date,
        last: date,
    ) -> Sequence[DailySummary]:
        """Accepted readings per local day, each in the zone the participant was in then."""
        ...
