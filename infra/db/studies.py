"""Repositories for studies and sites."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import ReadFilter
from domain.errors import AlreadyExists
from domain.ids import SiteId, StudyId
from domain.studies import Site, Study
from infra.db.mapping import row_values
from infra.db.tables import SiteRow, StudyRow
from infra.db.visibility import visible_rows

_STUDIES = StudyRow.__table__  # type: ignore[attr-defined]
_SITES = SiteRow.__table__  # type: ignore[attr-defined]


def _study(row: RowMapping) -> Study:
    return Study(**row)


def _site(row: RowMapping) -> Site:
    return Site(**row)


class SqlStudyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, study: Study) -> None:
        try:
            await self._session.execute(insert(_STUDIES).values(row_values(study)))
        except IntegrityError as error:
            raise AlreadyExists("A study with this code", field="code") from error

    async def by_code(self, code: str) -> Study | None:
        query = select(_STUDIES).where(_STUDIES.c.code == code)
        row = (await self._session.execute(query)).first()
        return _study(row._mapping) if row else None

    async def get(self, study_id: StudyId) -> Study | None:
        row = (
            await self._session.execute(select(_STUDIES).where(_STUDIES.c.id == study_id))
        ).first()
        return _study(row._mapping) if row else None

    async def get_many(self, ids: Sequence[StudyId]) -> Sequence[Study]:
        result = await self._session.execute(select(_STUDIES).where(_STUDIES.c.id.in_(ids)))
        return [_study(r._mapping) for r in result]

    async def list(self, visible: ReadFilter) -> Sequence[Study]:
        query = (
            select(_STUDIES)
            .where(visible_rows(visible, study=_STUDIES.c.id))
            .order_by(_STUDIES.c.code)
        )
        return [_study(r._mapping) for r in await self._session.execute(query)]


class SqlSiteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, site: Site) -> None:
        try:
            await self._session.execute(insert(_SITES).values(row_values(site)))
        except IntegrityError as error:
            raise AlreadyExists("A site with this code in the study", field="code") from error

    async def by_code(self, study_id: StudyId, code: str) -> Site | None:
        query = select(_SITES).where(_SITES.c.study_id == study_id, _SITES.c.code == code)
        row = (await self._session.execute(query)).first()
        return _site(row._mapping) if row else None

    async def get(self, site_id: SiteId) -> Site | None:
        row = (await self._session.execute(select(_SITES).where(_SITES.c.id == site_id))).first()
        return _site(row._mapping) if row else None

    async def get_many(self, ids: Sequence[SiteId]) -> Sequence[Site]:
        result = await self._session.execute(select(_SITES).where(_SITES.c.id.in_(ids)))
        return [_site(r._mapping) for r in result]

    async def list_for_studies(
        self, study_ids: Sequence[StudyId], visible: ReadFilter
    ) -> Sequence[Site]:
        query = (
            select(_SITES)
            .where(_SITES.c.study_id.in_(study_ids))
            .where(visible_rows(visible, study=_SITES.c.study_id, site=_SITES.c.id))
            .order_by(_SITES.c.study_id, _SITES.c.code)
        )
        return [_site(r._mapping) for r in await self._session.execute(query)]
