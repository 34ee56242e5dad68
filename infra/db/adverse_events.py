"""Repository for adverse events (the participant's own words sealed with their key)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.adverse_events import (
    ActionTaken,
    AdverseEvent,
    AdverseEventDetails,
    AdverseEventOutcome,
    AdverseEventStatus,
    Relationship,
    ReportedBy,
    Seriousness,
    Severity,
)
from domain.audit import snapshot
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId
from domain.reason_codes import ReasonCode
from infra.db.data_keys import FieldCipher
from infra.db.tables.clinical import AdverseEventRow

_EVENTS = AdverseEventRow.__table__  # type: ignore[attr-defined]


def _details(body: dict[str, Any]) -> AdverseEventDetails:
    def opt(kind: Any, key: str) -> Any:
        return kind(body[key]) if body.get(key) is not None else None

    return AdverseEventDetails(
        term=body["term"],
        onset=body.get("onset"),
        end=body.get("end"),
        ongoing=bool(body.get("ongoing")),
        severity=opt(Severity, "severity"),
        seriousness=tuple(Seriousness(s) for s in body.get("seriousness", ())),
        relationship=opt(Relationship, "relationship"),
        action_taken=opt(ActionTaken, "action_taken"),
        outcome=opt(AdverseEventOutcome, "outcome"),
        llt_code=body.get("llt_code"),
        llt_name=body.get("llt_name"),
        pt_code=body.get("pt_code"),
        pt_name=body.get("pt_name"),
    )


class SqlAdverseEventRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    async def _values(self, e: AdverseEvent) -> dict[str, Any]:
        sealed = (
            await self._cipher.seal(
                e.participant_id, "adverse_events", "description", e.id, e.description
            )
            if e.description
            else None
        )
        return {
            "participant_id": e.participant_id,
            "study_id": e.study_id,
            "site_id": e.site_id,
            "status": e.status.value,
            "reported_by": e.reported_by.value,
            "description_sealed": sealed,
            "details": snapshot(e.details),
            "serious": e.serious,
            "reported_at": e.reported_at,
            "recorded_at": e.recorded_at,
            "recorded_by": e.recorded_by,
            "serious_since": e.serious_since,
            "report_due_at": e.report_due_at,
            "reported_to_sponsor_at": e.reported_to_sponsor_at,
            "reason_code": e.reason_code.value if e.reason_code else None,
            "version": e.version,
        }

    async def add(self, event: AdverseEvent) -> None:
        await self._db.execute(insert(_EVENTS).values(id=event.id, **await self._values(event)))

    async def get(self, event_id: uuid.UUID) -> AdverseEvent | None:
        row = (await self._db.execute(select(_EVENTS).where(_EVENTS.c.id == event_id))).first()
        return await self._event(row) if row else None

    async def update(self, event: AdverseEvent) -> None:
        result = await self._db.execute(
            update(_EVENTS)
            .where(_EVENTS.c.id == event.id, _EVENTS.c.version == event.version - 1)
            .values(**await self._values(event))
            .returning(_EVENTS.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The adverse event changed meanwhile; reload and retry."
            )

    async def of_participant(self, participant_id: ParticipantId) -> Sequence[AdverseEvent]:
        rows = await self._db.execute(
            select(_EVENTS)
            .where(_EVENTS.c.participant_id == participant_id)
            .order_by(_EVENTS.c.reported_at, _EVENTS.c.id)
        )
        return [await self._event(r) for r in rows]

    async def of_study(self, study_id: StudyId) -> Sequence[AdverseEvent]:
        rows = await self._db.execute(
            select(_EVENTS)
            .where(_EVENTS.c.study_id == study_id)
            .order_by(_EVENTS.c.participant_id, _EVENTS.c.reported_at, _EVENTS.c.id)
        )
        return [await self._event(r) for r in rows]

    async def _event(self, row: Any) -> AdverseEvent:
        description = (
            await self._cipher.open(
                row.participant_id, "adverse_events", "description", row.id, row.description_sealed
            )
            if row.description_sealed is not None
            else None
        )
        return AdverseEvent(
            id=row.id,
            study_id=StudyId(row.study_id),
            site_id=SiteId(row.site_id),
            participant_id=ParticipantId(row.participant_id),
            status=AdverseEventStatus(row.status),
            reported_by=ReportedBy(row.reported_by),
            description=description,
            details=_details(row.details),
            reported_at=row.reported_at,
            recorded_at=row.recorded_at,
            recorded_by=row.recorded_by,
            serious_since=row.serious_since,
            report_due_at=row.report_due_at,
            reported_to_sponsor_at=row.reported_to_sponsor_at,
            reason_code=ReasonCode(row.reason_code) if row.reason_code else None,
            version=row.version,
        )
