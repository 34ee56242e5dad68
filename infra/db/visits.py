"""Repository for remote visits (notes sealed with the participant's key)."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import DateTime, Select, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import ReadFilter
from domain.design import ContactMode
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId, VisitDefinitionId, VisitId
from domain.pagination import Page, PageRequest
from domain.records import VisitFilter
from domain.visits import Visit, VisitOutcome, VisitStatus
from infra.db.data_keys import FieldCipher
from infra.db.keyset import keyset_page
from infra.db.tables import SiteRow, VisitRow
from infra.db.visibility import visible_rows

_VISITS = VisitRow.__table__  # type: ignore[attr-defined]
_SITES = SiteRow.__table__  # type: ignore[attr-defined]


class SqlVisitRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    async def _values(self, visit: Visit) -> dict[str, Any]:
        notes = (
            await self._cipher.seal(visit.participant_id, "visits", "notes", visit.id, visit.notes)
            if visit.notes
            else None
        )
        return {
            "participant_id": visit.participant_id,
            "study_id": visit.study_id,
            "site_id": visit.site_id,
            "definition_id": visit.definition_id,
            "mode": visit.mode.value,
            "local_start": visit.local_start.isoformat(timespec="seconds"),
            "timezone": visit.timezone,
            "starts_at": visit.starts_at,
            "duration_minutes": visit.duration_minutes,
            "assignee_id": visit.assignee_id,
            "status": visit.status.value,
            "out_of_window": visit.out_of_window,
            "outcome": visit.outcome.value if visit.outcome else None,
            "notes_sealed": notes,
            "completed_at": visit.completed_at,
            "version": visit.version,
        }

    async def add(self, visit: Visit) -> None:
        await self._db.execute(insert(_VISITS).values(id=visit.id, **await self._values(visit)))

    async def get(self, visit_id: VisitId) -> Visit | None:
        row = (await self._db.execute(select(_VISITS).where(_VISITS.c.id == visit_id))).first()
        return await self._visit(row) if row else None

    async def update(self, visit: Visit) -> None:
        result = await self._db.execute(
            update(_VISITS)
            .where(_VISITS.c.id == visit.id, _VISITS.c.version == visit.version - 1)
            .values(**await self._values(visit))
            .returning(_VISITS.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The visit changed meanwhile; reload and retry."
            )

    async def page(
        self, filters: VisitFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[Visit]:
        query = self._filtered(filters).where(
            visible_rows(
                visible,
                study=_VISITS.c.study_id,
                site=_VISITS.c.site_id,
                participant=_VISITS.c.participant_id,
            )
        )
        found = await keyset_page(
            self._db,
            query,
            [_VISITS.c.starts_at, _VISITS.c.id],
            [datetime.fromisoformat, uuid.UUID],
            request,
        )
        return found.with_items([await self._visit(r) for r in found.items])

    def _filtered(self, filters: VisitFilter) -> Select[Any]:
        query = select(_VISITS)
        for column, value in (
            ("site_id", filters.site_id),
            ("participant_id", filters.participant_id),
            ("assignee_id", filters.assignee_id),
        ):
            if value is not None:
                query = query.where(_VISITS.c[column] == value)
        if filters.status is not None:
            query = query.where(_VISITS.c.status == filters.status.value)
        if filters.upcoming_from is not None:
            query = query.where(_VISITS.c.starts_at >= filters.upcoming_from)
        if filters.on is not None:
            # "Visits on a day" means the site's day: its local midnight to midnight.
            zone = (
                select(_SITES.c.timezone).where(_SITES.c.id == _VISITS.c.site_id).scalar_subquery()
            )
            start = _midnight(filters.on)
            query = query.where(
                _VISITS.c.starts_at >= _at(start, zone),
                _VISITS.c.starts_at < _at(start + timedelta(days=1), zone),
            )
        return query

    async def _visit(self, row: Any) -> Visit:
        notes = (
            await self._cipher.open(row.participant_id, "visits", "notes", row.id, row.notes_sealed)
            if row.notes_sealed is not None
            else None
        )
        return visit_from_row(row, notes)


def visit_from_row(row: Any, notes: str | None) -> Visit:
    """A visit from its row; `notes` is the opened personal note, or None."""
    return Visit(
        id=VisitId(row.id),
        participant_id=ParticipantId(row.participant_id),
        study_id=StudyId(row.study_id),
        site_id=SiteId(row.site_id),
        definition_id=VisitDefinitionId(row.definition_id),
        mode=ContactMode(row.mode),
        local_start=datetime.fromisoformat(row.local_start),
        timezone=row.timezone,
        starts_at=row.starts_at,
        duration_minutes=row.duration_minutes,
        assignee_id=row.assignee_id,
        status=VisitStatus(row.status),
        out_of_window=row.out_of_window,
        outcome=VisitOutcome(row.outcome) if row.outcome else None,
        notes=notes,
        completed_at=row.completed_at,
        version=row.version,
    )


def _midnight(day: Any) -> datetime:
    return datetime.combine(day, time())


def _at(local_midnight: datetime, zone: Any) -> Any:
    """SQL: a local wall time in a zone given by a column, as timestamptz."""
    return func.timezone(zone, literal(local_midnight.replace(tzinfo=None), DateTime()))
