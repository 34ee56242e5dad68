"""In-memory fakes of the visits ports, for fast unit tests of the rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.access import ReadFilter
from domain.data_queries import DataQuery
from domain.errors import DomainError, ErrorCode
from domain.ids import (
    DataQueryId,
    VisitId,
)
from domain.pagination import Page, PageRequest
from domain.records import Located, QueryFilter, VisitFilter
from domain.visits import Visit
from tests.fakes.visibility import _visible
from tests.paging import keyset_window

if TYPE_CHECKING:
    from tests.fakes.unit_of_work import FakeUnitOfWork


class FakeVisits:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Visit] = {}

    async def add(self, visit: Visit) -> None:
        self.rows[visit.id] = visit

    async def get(self, visit_id: VisitId) -> Visit | None:
        return self.rows.get(visit_id)

    async def update(self, visit: Visit) -> None:
        if self.rows[visit.id].version != visit.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[visit.id] = visit

    async def page(
        self, filters: VisitFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[Visit]:
        rows = (
            v
            for v in self.rows.values()
            if _visible(visible, v.study_id, v.site_id, v.participant_id)
            and (filters.participant_id is None or v.participant_id == filters.participant_id)
            and (filters.site_id is None or v.site_id == filters.site_id)
            and (filters.status is None or v.status is filters.status)
            and (filters.upcoming_from is None or v.starts_at >= filters.upcoming_from)
        )
        return keyset_window(
            rows, lambda v: (v.starts_at, v.id), [datetime.fromisoformat, uuid.UUID], request
        )


class FakeQueries:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, DataQuery] = {}

    async def add(self, query: DataQuery) -> None:
        self.rows[query.id] = query

    async def get(self, query_id: DataQueryId) -> DataQuery | None:
        return self.rows.get(query_id)

    async def update(self, query: DataQuery) -> None:
        self.rows[query.id] = query

    async def page(
        self, filters: QueryFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[DataQuery]:
        rows = (
            q
            for q in self.rows.values()
            if _visible(visible, q.study_id, q.site_id, q.participant_id)
            and (filters.status is None or q.status is filters.status)
        )
        return keyset_window(rows, lambda q: (q.id,), [uuid.UUID], request)


class FakeRecords:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def locate(self, record_type: str, record_id: uuid.UUID) -> Located | None:
        stores: dict[str, dict[Any, Any]] = {
            "Participant": self._uow.participants.rows,
            "Visit": self._uow.visits.rows,
            "Consent": self._uow.consents.rows,
        }
        record = stores.get(record_type, {}).get(record_id)
        if record is None:
            return None
        participant = (
            record
            if record_type == "Participant"
            else self._uow.participants.rows.get(record.participant_id)
        )
        if participant is None:
            return None
        return Located(record, participant.study_id, participant.site_id, participant.id)
