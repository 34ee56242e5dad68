"""Repository for monitors' queries (question and answer sealed with the participant's key)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import ReadFilter
from domain.data_queries import DataQuery, QueryStatus
from domain.errors import DomainError, ErrorCode
from domain.ids import DataQueryId, ParticipantId, SiteId, StudyId
from domain.pagination import Page, PageRequest
from domain.records import QueryFilter
from infra.db.data_keys import FieldCipher
from infra.db.keyset import keyset_page
from infra.db.tables import DataQueryRow
from infra.db.visibility import visible_rows

_TABLE = DataQueryRow.__table__  # type: ignore[attr-defined]
_ERASED = "[erased]"


class SqlDataQueryRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    async def _seal(self, query: DataQuery, column: str, text: str | None) -> bytes | None:
        if text is None:
            return None
        return await self._cipher.seal(query.participant_id, "data_queries", column, query.id, text)

    async def _values(self, query: DataQuery) -> dict[str, Any]:
        return {
            "question_sealed": await self._seal(query, "question", query.question),
            "answer_sealed": await self._seal(query, "answer", query.answer),
            "status": query.status.value,
            "answered_by": query.answered_by,
            "answered_at": query.answered_at,
            "closed_by": query.closed_by,
            "closed_at": query.closed_at,
            "version": query.version,
        }

    async def add(self, query: DataQuery) -> None:
        await self._db.execute(
            insert(_TABLE).values(
                id=query.id,
                study_id=query.study_id,
                site_id=query.site_id,
                participant_id=query.participant_id,
                record_type=query.record_type,
                record_id=query.record_id,
                field=query.field,
                raised_by=query.raised_by,
                raised_at=query.raised_at,
                **await self._values(query),
            )
        )

    async def get(self, query_id: DataQueryId) -> DataQuery | None:
        row = (await self._db.execute(select(_TABLE).where(_TABLE.c.id == query_id))).first()
        return await self._query(row) if row else None

    async def update(self, query: DataQuery) -> None:
        result = await self._db.execute(
            update(_TABLE)
            .where(_TABLE.c.id == query.id, _TABLE.c.version == query.version - 1)
            .values(**await self._values(query))
            .returning(_TABLE.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The query changed meanwhile; reload and retry."
            )

    async def page(
        self, filters: QueryFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[DataQuery]:
        query = select(_TABLE).where(
            visible_rows(
                visible,
                study=_TABLE.c.study_id,
                site=_TABLE.c.site_id,
                participant=_TABLE.c.participant_id,
            )
        )
        for column, value in (
            ("site_id", filters.site_id),
            ("participant_id", filters.participant_id),
            ("record_id", filters.record_id),
        ):
            if value is not None:
                query = query.where(_TABLE.c[column] == value)
        if filters.status is not None:
            query = query.where(_TABLE.c.status == filters.status.value)
        found = await keyset_page(self._db, query, [_TABLE.c.id], [uuid.UUID], request)
        return found.with_items([await self._query(r) for r in found.items])

    async def _query(self, row: Any) -> DataQuery:
        async def opened(column: str, blob: bytes | None) -> str | None:
            if blob is None:
                return None
            text = await self._cipher.open(row.participant_id, "data_queries", column, row.id, blob)
            return text if text is not None else _ERASED

        return DataQuery(
            id=DataQueryId(row.id),
            study_id=StudyId(row.study_id),
            site_id=SiteId(row.site_id),
            participant_id=ParticipantId(row.participant_id),
            record_type=row.record_type,
            record_id=row.record_id,
            field=row.field,
            question=await opened("question", row.question_sealed) or _ERASED,
            status=QueryStatus(row.status),
            raised_by=row.raised_by,
            raised_at=row.raised_at,
            answer=await opened("answer", row.answer_sealed),
            answered_by=row.answered_by,
            answered_at=row.answered_at,
            closed_by=row.closed_by,
            closed_at=row.closed_at,
            version=row.version,
        )
