"""Repository for protocol deviations; an automatic one is stored once per trigger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.deviations import (
    DeviationCategory,
    DeviationSeverity,
    DeviationSource,
    DeviationStatus,
    ProtocolDeviation,
    Trigger,
)
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId
from domain.reason_codes import ReasonCode
from infra.db.tables.clinical import DeviationRow

_DEVIATIONS = DeviationRow.__table__  # type: ignore[attr-defined]


def deviation_of(row: Any) -> ProtocolDeviation:
    trigger = (
        Trigger(row.trigger_type, row.trigger_id)
        if row.trigger_type is not None and row.trigger_id is not None
        else None
    )
    return ProtocolDeviation(
        id=row.id,
        study_id=StudyId(row.study_id),
        site_id=SiteId(row.site_id),
        participant_id=ParticipantId(row.participant_id),
        category=DeviationCategory(row.category),
        severity=DeviationSeverity(row.severity),
        term=row.term,
        occurred_on=row.occurred_on,
        source=DeviationSource(row.source),
        trigger=trigger,
        status=DeviationStatus(row.status),
        detected_at=row.detected_at,
        detected_by=row.detected_by,
        resolution=row.resolution,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        reason_code=ReasonCode(row.reason_code) if row.reason_code else None,
        version=row.version,
    )


def _values(d: ProtocolDeviation) -> dict[str, Any]:
    return {
        "participant_id": d.participant_id,
        "study_id": d.study_id,
        "site_id": d.site_id,
        "category": d.category.value,
        "severity": d.severity.value,
        "term": d.term,
        "occurred_on": d.occurred_on,
        "source": d.source.value,
        "trigger_type": d.trigger.record_type if d.trigger else None,
        "trigger_id": d.trigger.record_id if d.trigger else None,
        "status": d.status.value,
        "resolution": d.resolution,
        "detected_at": d.detected_at,
        "detected_by": d.detected_by,
        "resolved_at": d.resolved_at,
        "resolved_by": d.resolved_by,
        "reason_code": d.reason_code.value if d.reason_code else None,
        "version": d.version,
    }


class SqlDeviationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def add(self, deviation: ProtocolDeviation) -> None:
        await self._db.execute(insert(_DEVIATIONS).values(id=deviation.id, **_values(deviation)))

    async def raise_once(self, deviation: ProtocolDeviation) -> bool:
        result = await self._db.execute(
            pg_insert(_DEVIATIONS)
            .values(id=deviation.id, **_values(deviation))
            .on_conflict_do_nothing(
                index_elements=["trigger_type", "trigger_id", "category"],
                index_where=_DEVIATIONS.c.trigger_id.isnot(None),
            )
            .returning(_DEVIATIONS.c.id)
        )
        return result.first() is not None

    async def get(self, deviation_id: uuid.UUID) -> ProtocolDeviation | None:
        row = (
            await self._db.execute(select(_DEVIATIONS).where(_DEVIATIONS.c.id == deviation_id))
        ).first()
        return deviation_of(row) if row else None

    async def update(self, deviation: ProtocolDeviation) -> None:
        result = await self._db.execute(
            update(_DEVIATIONS)
            .where(
                _DEVIATIONS.c.id == deviation.id,
                _DEVIATIONS.c.version == deviation.version - 1,
            )
            .values(**_values(deviation))
            .returning(_DEVIATIONS.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The deviation changed meanwhile; reload and retry."
            )

    async def of_participant(self, participant_id: ParticipantId) -> Sequence[ProtocolDeviation]:
        rows = await self._db.execute(
            select(_DEVIATIONS)
            .where(_DEVIATIONS.c.participant_id == participant_id)
            .order_by(_DEVIATIONS.c.detected_at, _DEVIATIONS.c.id)
        )
        return [deviation_of(r) for r in rows]
