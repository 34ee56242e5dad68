"""The clinical records an export reads: adverse events (without the participant's words),
concomitant medications and protocol deviations."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.adverse_events import AdverseEvent
from domain.deviations import ProtocolDeviation
from domain.medications import ConcomitantMedication
from infra.db.adverse_events import SqlAdverseEventRepository
from infra.db.deviations import deviation_of
from infra.db.medications import medication_of
from infra.db.tables.clinical import AdverseEventRow, DeviationRow, MedicationRow

_EVENTS = AdverseEventRow.__table__  # type: ignore[attr-defined]
_MEDICATIONS = MedicationRow.__table__  # type: ignore[attr-defined]
_DEVIATIONS = DeviationRow.__table__  # type: ignore[attr-defined]


class _Sealed:
    """The cipher of a reader that never decrypts: `reveal=False` never calls it."""

    async def open(self, *args: object) -> str | None:
        raise AssertionError("an export never opens participants' sealed values")

    async def seal(self, *args: object) -> bytes:
        raise AssertionError("an export never writes")


async def adverse_events_of(session: AsyncSession, participant_id: uuid.UUID) -> list[AdverseEvent]:
    """The participant's adverse events by report time; the sealed description stays shut."""
    repository = SqlAdverseEventRepository(session, _Sealed())  # type: ignore[arg-type]
    rows: Any = await session.execute(
        select(_EVENTS)
        .where(_EVENTS.c.participant_id == participant_id)
        .order_by(_EVENTS.c.reported_at, _EVENTS.c.id)
    )
    return [await repository.event_of(r, reveal=False) for r in rows.all()]


async def medications_of(
    session: AsyncSession, participant_id: uuid.UUID
) -> list[ConcomitantMedication]:
    """The participant's concomitant medications by report time."""
    rows: Any = await session.execute(
        select(_MEDICATIONS)
        .where(_MEDICATIONS.c.participant_id == participant_id)
        .order_by(_MEDICATIONS.c.reported_at, _MEDICATIONS.c.id)
    )
    return [medication_of(r) for r in rows.all()]


async def deviations_of(
    session: AsyncSession, participant_id: uuid.UUID
) -> list[ProtocolDeviation]:
    """The participant's protocol deviations by detection time."""
    rows: Any = await session.execute(
        select(_DEVIATIONS)
        .where(_DEVIATIONS.c.participant_id == participant_id)
        .order_by(_DEVIATIONS.c.detected_at, _DEVIATIONS.c.id)
    )
    return [deviation_of(r) for r in rows.all()]
