"""Repository for concomitant medications."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import snapshot
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId
from domain.medications import (
    ConcomitantMedication,
    Frequency,
    MedicationDetails,
    MedicationStatus,
    Route,
)
from domain.reason_codes import ReasonCode
from infra.db.tables.clinical import MedicationRow

_MEDICATIONS = MedicationRow.__table__  # type: ignore[attr-defined]


def _details(body: dict[str, Any]) -> MedicationDetails:
    return MedicationDetails(
        name=body["name"],
        drug_code=body.get("drug_code"),
        coded_name=body.get("coded_name"),
        dose=body.get("dose"),
        dose_unit=body.get("dose_unit"),
        route=Route(body["route"]) if body.get("route") else None,
        frequency=Frequency(body["frequency"]) if body.get("frequency") else None,
        start=body.get("start"),
        end=body.get("end"),
        ongoing=bool(body.get("ongoing")),
        indication=body.get("indication"),
    )


def medication_of(row: Any) -> ConcomitantMedication:
    return ConcomitantMedication(
        id=row.id,
        study_id=StudyId(row.study_id),
        site_id=SiteId(row.site_id),
        participant_id=ParticipantId(row.participant_id),
        status=MedicationStatus(row.status),
        reported_by_participant=row.reported_by_participant,
        details=_details(row.details),
        reported_at=row.reported_at,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        reason_code=ReasonCode(row.reason_code) if row.reason_code else None,
        version=row.version,
    )


def _values(m: ConcomitantMedication) -> dict[str, Any]:
    return {
        "participant_id": m.participant_id,
        "study_id": m.study_id,
        "site_id": m.site_id,
        "status": m.status.value,
        "reported_by_participant": m.reported_by_participant,
        "details": snapshot(m.details),
        "reported_at": m.reported_at,
        "recorded_at": m.recorded_at,
        "recorded_by": m.recorded_by,
        "reason_code": m.reason_code.value if m.reason_code else None,
        "version": m.version,
    }


class SqlMedicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def add(self, medication: ConcomitantMedication) -> None:
        await self._db.execute(insert(_MEDICATIONS).values(id=medication.id, **_values(medication)))

    async def get(self, medication_id: uuid.UUID) -> ConcomitantMedication | None:
        row = (
            await self._db.execute(select(_MEDICATIONS).where(_MEDICATIONS.c.id == medication_id))
        ).first()
        return medication_of(row) if row else None

    async def update(self, medication: ConcomitantMedication) -> None:
        result = await self._db.execute(
            update(_MEDICATIONS)
            .where(
                _MEDICATIONS.c.id == medication.id,
                _MEDICATIONS.c.version == medication.version - 1,
            )
            .values(**_values(medication))
            .returning(_MEDICATIONS.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The medication changed meanwhile; reload and retry."
            )

    async def of_participant(
        self, participant_id: ParticipantId
    ) -> Sequence[ConcomitantMedication]:
        rows = await self._db.execute(
            select(_MEDICATIONS)
            .where(_MEDICATIONS.c.participant_id == participant_id)
            .order_by(_MEDICATIONS.c.reported_at, _MEDICATIONS.c.id)
        )
        return [medication_of(r) for r in rows]
