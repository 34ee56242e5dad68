"""Repository for devices; serials are sealed with each device's own key and kept unique
per study by a blind index."""

from __future__ import annotations

import uuid
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
from infra.crypto.blind_index import exact
from infra.db.data_keys import FieldCipher, key_ids
from infra.db.tables import DeviceAssignmentRow, DeviceRow

_TABLE = DeviceRow.__table__  # type: ignore[attr-defined]
_HELD = DeviceAssignmentRow.__table__  # type: ignore[attr-defined]
_NAME = "devices"
_SERIAL = "serial"


def serial_index(cipher: FieldCipher, study_id: uuid.UUID, serial: str) -> bytes:
    # Scoped to the study, like the uniqueness it enforces.
    return cipher.index(f"{_NAME}.{_SERIAL}", f"{study_id}\x1f{serial}", exact)


async def sealed_serial(
    cipher: FieldCipher, device_id: uuid.UUID, study_id: uuid.UUID, serial: str
) -> dict[str, Any]:
    """The column values that store a serial: sealed, indexed, no plaintext."""
    return {
        "serial_sealed": await cipher.seal(device_id, _NAME, _SERIAL, device_id, serial),
        "serial_index": serial_index(cipher, study_id, serial),
        "legacy_serial": None,
    }


def _device(row: Any, serial: str) -> Device:
    return Device(
        id=DeviceId(row.id),
        study_id=StudyId(row.study_id),
        site_id=SiteId(row.site_id),
        kinds=tuple(ReadingKind(k) for k in row.kinds),
        model=row.model,
        serial=serial,
        registered_at=row.registered_at,
        participant_id=ParticipantId(row.participant_id) if row.participant_id else None,
        assigned_at=row.assigned_at,
        version=row.version,
    )


class SqlDeviceRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    async def add(self, device: Device) -> None:
        # A device is nobody's personal data, but its serial identifies whoever holds it:
        # it gets a key of its own.
        await self._cipher.keys.create(device.id, "device")
        try:
            await self._db.execute(
                insert(_TABLE).values(
                    id=device.id,
                    study_id=device.study_id,
                    site_id=device.site_id,
                    kinds=[k.value for k in device.kinds],
                    model=device.model,
                    registered_at=device.registered_at,
                    version=device.version,
                    **await sealed_serial(self._cipher, device.id, device.study_id, device.serial),
                )
            )
        except IntegrityError as error:
            raise AlreadyExists("A device with this serial number", field="serial") from error

    async def _devices(self, rows: Sequence[Any]) -> list[Device]:
        await self._cipher.keys.load(key_ids(r.serial_sealed for r in rows))
        return [_device(r, await self._serial(r)) for r in rows]

    async def _serial(self, row: Any) -> str:
        if row.legacy_serial is not None:  # written before 0008, not sealed yet
            return str(row.legacy_serial)
        opened = await self._cipher.open(row.id, _NAME, _SERIAL, row.id, row.serial_sealed)
        if opened is None:  # device keys are never destroyed: this is a broken installation
            raise RuntimeError("a device's data key is missing")
        return opened

    async def get(self, device_id: DeviceId) -> Device | None:
        row = (await self._db.execute(select(_TABLE).where(_TABLE.c.id == device_id))).first()
        return (await self._devices([row]))[0] if row else None

    async def get_many(self, device_ids: Sequence[DeviceId]) -> Sequence[Device]:
        if not device_ids:
            return []
        rows = await self._db.execute(select(_TABLE).where(_TABLE.c.id.in_(device_ids)))
        return await self._devices(rows.all())

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
        return await self._devices(rows.all())

    async def at_site(self, site_id: SiteId) -> Sequence[Device]:
        rows = await self._db.execute(select(_TABLE).where(_TABLE.c.site_id == site_id))
        # Sealed serials cannot be sorted in SQL; a site's devices fit in memory.
        return sorted(await self._devices(rows.all()), key=lambda d: (d.serial, d.id))

    async def assignments_of(self, participant_id: ParticipantId) -> Sequence[Assignment]:
        rows = await self._db.execute(
            select(_TABLE, _HELD.c.since, _HELD.c.until)
            .join(_HELD, _HELD.c.device_id == _TABLE.c.id)
            .where(_HELD.c.participant_id == participant_id)
            .order_by(_HELD.c.since)
        )
        held = rows.all()
        devices = await self._devices(held)
        return [
            Assignment(d, participant_id, since=r.since, until=r.until)
            for d, r in zip(devices, held, strict=True)
        ]

    async def periods(self, device_ids: Sequence[DeviceId]) -> Sequence[Assignment]:
        if not device_ids:
            return []
        rows = await self._db.execute(
            select(_TABLE, _HELD.c.participant_id.label("holder"), _HELD.c.since, _HELD.c.until)
            .join(_HELD, _HELD.c.device_id == _TABLE.c.id)
            .where(_TABLE.c.id.in_(device_ids))
            .order_by(_HELD.c.since)
        )
        held = rows.all()
        devices = await self._devices(held)
        return [
            Assignment(d, ParticipantId(r.holder), since=r.since, until=r.until)
            for d, r in zip(devices, held, strict=True)
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
