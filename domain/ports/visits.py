"""Ports for visits, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from typing import Protocol

from domain.access import ReadFilter
from domain.data_queries import DataQuery
from domain.ids import (
    DataQueryId,
    VisitId,
)
from domain.pagination import Page, PageRequest
from domain.records import Located, QueryFilter, VisitFilter
from domain.visits import Visit


class VisitRepository(Protocol):
    async def add(self, visit: Visit) -> None: ...
    async def get(self, visit_id: VisitId) -> Visit | None: ...
    async def update(self, visit: Visit) -> None: ...

    async def page(
        self, filters: VisitFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[Visit]:
        """Visits by start time, filtered and limited to what the reader may see."""
        ...


class DataQueryRepository(Protocol):
    async def add(self, query: DataQuery) -> None: ...
    async def get(self, query_id: DataQueryId) -> DataQuery | None: ...
    async def update(self, query: DataQuery) -> None: ...

    async def page(
        self, filters: QueryFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[DataQuery]: ...


class RecordLocator(Protocol):
    async def locate(self, record_type: str, record_id: uuid.UUID) -> Located | None:
        """Where a record sits (study, site, participant) and the record itself."""
        ...
