"""Stored diary plans, read and written with SQLAlchemy Core (the home screen's hot path)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ids import ParticipantId, StudyId
from domain.occurrences import Planned, StoredPlan
from domain.schedules import Occurrence
from infra.db.tables import DiaryOccurrenceRow, DiaryPlanRow, ParticipantRow

_PLANS = DiaryPlanRow.__table__  # type: ignore[attr-defined]
_ROWS = DiaryOccurrenceRow.__table__  # type: ignore[attr-defined]
_PARTICIPANTS = ParticipantRow.__table__  # type: ignore[attr-defined]


class SqlOccurrenceStore:
    def __init__(self, session: AsyncSession, horizon: timedelta) -> None:
        self._db = session
        self._horizon = horizon

    @property
    def horizon(self) -> timedelta:
        return self._horizon

    async def read(
        self, participant_id: ParticipantId, basis: str, start: datetime, end: datetime
    ) -> StoredPlan | None:
        # One statement, so the plan's reach and its rows come from one snapshot.
        statement = (
            select(
                _PLANS.c.planned_until,
                _ROWS.c.schedule_id,
                _ROWS.c.local_date,
                _ROWS.c.local_time,
                _ROWS.c.timezone,
                _ROWS.c.due_at,
                _ROWS.c.closes_at,
            )
            .select_from(
                _PLANS.outerjoin(
                    _ROWS,
                    and_(
                        _ROWS.c.participant_id == _PLANS.c.participant_id,
                        _ROWS.c.basis == _PLANS.c.basis,
                        _ROWS.c.due_at >= start,
                        _ROWS.c.due_at < end,
                    ),
                )
            )
            .where(_PLANS.c.participant_id == participant_id, _PLANS.c.basis == basis)
        )
        rows = (await self._db.execute(statement)).all()
        if not rows:
            return None
        found = [
            Planned(
                r.schedule_id,
                Occurrence(
                    local_date=r.local_date,
                    local_time=r.local_time,
                    timezone=r.timezone,
                    due_at=r.due_at,
                    closes_at=r.closes_at,
                ),
            )
            for r in rows
            if r.schedule_id is not None
        ]
        return StoredPlan(until=rows[0].planned_until, occurrences=found)

    async def store(
        self,
        participant_id: ParticipantId,
        basis: str,
        planned: Sequence[Planned],
        until: datetime,
    ) -> None:
        # The plan row first: concurrent planners queue on it, then add their rows in one
        # order (schedule, key); rows someone else stored already are left alone.
        plan = pg_insert(_PLANS).values(
            participant_id=participant_id, basis=basis, planned_until=until
        )
        await self._db.execute(
            plan.on_conflict_do_update(
                index_elements=[_PLANS.c.participant_id, _PLANS.c.basis],
                set_={"planned_until": func.greatest(_PLANS.c.planned_until, until)},
            )
        )
        values = [
            {
                "participant_id": participant_id,
                "basis": basis,
                "schedule_id": p.schedule_id,
                "occurrence_key": p.occurrence.key,
                "local_date": p.occurrence.local_date,
                "local_time": p.occurrence.local_time,
                "timezone": p.occurrence.timezone,
                "due_at": p.occurrence.due_at,
                "closes_at": p.occurrence.closes_at,
            }
            for p in sorted(planned, key=lambda p: (p.schedule_id, p.occurrence.key))
        ]
        if values:  # executemany: SQLAlchemy batches the rows into multi-row INSERTs
            await self._db.execute(pg_insert(_ROWS).on_conflict_do_nothing(), values)

    async def forget_others(self, participant_id: ParticipantId, basis: str) -> None:
        await self._db.execute(
            delete(_PLANS).where(_PLANS.c.participant_id == participant_id, _PLANS.c.basis != basis)
        )

    async def has_plans(self, participant_id: ParticipantId) -> bool:
        found = await self._db.execute(
            select(exists().where(_PLANS.c.participant_id == participant_id))
        )
        return bool(found.scalar_one())

    async def planned_in(self, study_id: StudyId) -> Sequence[ParticipantId]:
        rows = await self._db.execute(
            select(_PLANS.c.participant_id)
            .distinct()
            .join(_PARTICIPANTS, _PARTICIPANTS.c.id == _PLANS.c.participant_id)
            .where(_PARTICIPANTS.c.study_id == study_id)
            .order_by(_PLANS.c.participant_id)
        )
        return [ParticipantId(r.participant_id) for r in rows]
