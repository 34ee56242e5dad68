"""Repository for enrolment codes and paired app installations."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import Clock
from domain.enrolment import AppInstallation, EnrolmentCode
from domain.ids import ParticipantId
from infra.db.mapping import row_values
from infra.db.tables import AppInstallationRow, EnrolmentCodeRow

_CODES = EnrolmentCodeRow.__table__  # type: ignore[attr-defined]
_INSTALLATIONS = AppInstallationRow.__table__  # type: ignore[attr-defined]


class SqlEnrolmentRepository:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._db = session
        self._clock = clock

    async def add_code(self, code: EnrolmentCode, digest: bytes) -> None:
        await self._db.execute(
            insert(_CODES).values(
                id=code.id,
                participant_id=code.participant_id,
                digest=digest,
                created_at=self._clock.now(),
                expires_at=code.expires_at,
            )
        )

    async def void_codes(self, participant_id: ParticipantId, now: datetime) -> None:
        await self._db.execute(
            update(_CODES)
            .where(_CODES.c.participant_id == participant_id, _CODES.c.used_at.is_(None))
            .values(used_at=now)
        )

    async def find_code(self, digest: bytes) -> EnrolmentCode | None:
        row = (await self._db.execute(select(_CODES).where(_CODES.c.digest == digest))).first()
        if row is None:
            return None
        return EnrolmentCode(
            id=row.id,
            participant_id=ParticipantId(row.participant_id),
            expires_at=row.expires_at,
            used_at=row.used_at,
        )

    async def use_code(self, code_id: uuid.UUID, now: datetime) -> bool:
        result = await self._db.execute(
            update(_CODES)
            .where(_CODES.c.id == code_id, _CODES.c.used_at.is_(None))
            .values(used_at=now)
            .returning(_CODES.c.id)
        )
        return result.first() is not None

    async def add_installation(self, installation: AppInstallation) -> None:
        await self._db.execute(insert(_INSTALLATIONS).values(row_values(installation)))

    async def unpair_all(self, participant_id: ParticipantId, now: datetime) -> int:
        result = await self._db.execute(
            update(_INSTALLATIONS)
            .where(
                _INSTALLATIONS.c.participant_id == participant_id,
                _INSTALLATIONS.c.unpaired_at.is_(None),
            )
            .values(unpaired_at=now)
            .returning(_INSTALLATIONS.c.id)
        )
        return len(result.all())
