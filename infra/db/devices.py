"""Repository for devices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.devices import Assignment, Device
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.ids import DeviceId, ParticipantId, SiteId, StudyId, new_id
from domain.readings import ReadingKind
from infra.db.tables import DeviceAssignmentRow, DeviceRow

_TABLE = DeviceRow.__table__  # type: ignore[attr-defined]
_HELD = DeviceAssignmentRow.__table__  # type: ignore[attr-defined]


def _device(row: Any) -> Device:
    return Device(
        id=DeviceId(row.id),
        study_id=StudyId(row.study_id),
        site_id=SiteId(row.site_id),
        kinds=tuple(ReadingKind(k) for k in row.kinds),
        model=row.model,
        serial=row.serial,
        registered_at=row.registered_at,
        participant_id=ParticipantId(row.participant_id) if row.participant_id else None,
        assigned_at=row.assigned_at,
        version=row.version,
    )


class SqlDeviceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def add(self, device: Device) -> None:
        try:
            await self._db.execute(
                insert(_TABLE).values(
                    id=device.id,
                    study_id=device.study_id,
                    site_id=device.site_id,
                    kinds=[k.value for k in device.kinds],
                    model=device.model,
                    serial=device.serial,
                    registered_at=device.registered_at,
                    version=device.version,
                )
            )
        except IntegrityError as error:
            raise AlreadyExists("A device with this serial number", field="serial") from error

    async def get(self, device_id: DeviceId) -> Device | None:
        row = (await self._db.execute(select(_TABLE).where(_TABLE.c.id == device_id))).first()
        return _device(row) if row else None

    async def get_many(self, device_ids: Sequence[DeviceId]) -> Sequence[Device]:
        if not device_ids:
            return []
        rows = await self._db.execute(select(_TABLE).where(_TABLE.c.id.in_(device_ids)))
        return [_device(r) for r in rows]

    async def update(self, device: Device) -> None:
        result = await self._db.execute(
            update(_TABLE)
            .where(_TABLE.c.id == device.id, _TABLE.c.version == device.version - 1)
            .values(
                participant_id=device.participant_id,
                assigned_at=device.assigned_at,
                version=device.version,
            )
            .returning(_TABLE.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The device changed meanwhile; reload and retry."
            )

    async def assigned_to(self, participant_id: ParticipantId) -> Sequence[Device]:
        rows = await self._db.execute(
            select(_TABLE).where(_TABLE.c.participant_id == participant_id)
        )
        return [_device(r) for r in rows]

    async def at_site(self, site_id: SiteId) -> Sequence[Device]:
        rows = await self._db.execute(
            select(_TABLE).where(_TABLE.c.site_id == site_id).order_by(_TABLE.c.serial)
        )
        return [_device(r) for r in rows]

    async def assignments_of(self, participant_id: ParticipantId) -> Sequence[Assignment]:
        rows = await self._db.execute(
            select(_TABLE, _HELD.c.since, _HELD.c.until)
            .join(_HELD, _HELD.c.device_id == _TABLE.c.id)
            .where(_HELD.c.participant_id == participant_id)
            .order_by(_HELD.c.since)
        )
        return [Assignment(_device(r), participant_id, since=r.since, until=r.until) for r in rows]

    async def periods(self, device_ids: Sequence[DeviceId]) -> Sequence[Assignment]:
        if not device_ids:
            return []
        rows = await self._db.execute(
            select(_TABLE, _HELD.c.participant_id.label("holder"), _HELD.c.since, _HELD.c.until)
            .join(_HELD, _HELD.c.device_id == _TABLE.c.id)
            .where(_TABLE.c.id.in_(device_ids))
            .order_by(_HELD.c.since)
        )
        return [
            Assignment(_device(r), ParticipantId(r.holder), since=r.since, until=r.until)
            for r in rows
        ]

    async def open_assignment(
        self, device_id: DeviceId, participant_id: ParticipantId, at: datetime
    ) -> None:
        await self._db.execute(
            insert(_HELD).values(
                id=new_id(), device_id=device_id, participant_id=participant_id, since=at
            )
        )

    async def close_assignment(self, device_id: DeviceId, at: datetime) -> None:
        await self._db.execute(
            update(_HELD)
            .where(_HELD.c.device_id == device_id, _HELD.c.until.is_(None))
            .values(until=at)
        )
