"""Repositories for studies and sites.

Row locks order a study's closure against the data entering it: whatever collects data holds
the study with FOR KEY SHARE, closing takes FOR UPDATE (which waits for those), and other
changes take FOR NO KEY UPDATE (which does not, so they never wait on an upload).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import ReadFilter
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId
from domain.participants import ACTIVE_STATUSES
from domain.reason_codes import ReasonCode
from domain.studies import OpenWork, RetentionEvent, Site, Study
from domain.visits import VisitStatus
from infra.db.mapping import row_values
from infra.db.tables import ParticipantRow, SiteRow, StudyRow, VisitRow
from infra.db.visibility import visible_rows

_STUDIES = StudyRow.__table__  # type: ignore[attr-defined]
_SITES = SiteRow.__table__  # type: ignore[attr-defined]
_PARTICIPANTS = ParticipantRow.__table__  # type: ignore[attr-defined]
_VISITS = VisitRow.__table__  # type: ignore[attr-defined]


def _study(row: RowMapping) -> Study:
    return Study(
        **{
            **row,
            "retention_from": RetentionEvent(row["retention_from"]),
            "reason_codes": tuple(ReasonCode(c) for c in row["reason_codes"]),
        }
    )


def _values(study: Study, exclude: frozenset[str] = frozenset()) -> dict[str, object]:
    return {
        **row_values(study, exclude=exclude),
        "reason_codes": [c.value for c in study.reason_codes],
    }


def _site(row: RowMapping) -> Site:
    return Site(**row)


class SqlStudyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, study: Study) -> None:
        try:
            await self._session.execute(insert(_STUDIES).values(_values(study)))
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

    async def lock(self, study_id: StudyId) -> Study | None:
        return await self._one(self._by_id(study_id).with_for_update(key_share=True))

    async def lock_for_closing(self, study_id: StudyId) -> Study | None:
        return await self._one(self._by_id(study_id).with_for_update())

    async def hold(self, study_id: StudyId) -> Study | None:
        return await self._one(self._by_id(study_id).with_for_update(read=True, key_share=True))

    async def update(self, study: Study) -> None:
        statement = (
            update(_STUDIES)
            .where(_STUDIES.c.id == study.id, _STUDIES.c.version == study.version - 1)
            .values(_values(study, exclude=frozenset({"id"})))
            .returning(_STUDIES.c.id)
        )
        if (await self._session.execute(statement)).first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The study changed meanwhile; reload and retry."
            )

    async def open_work(self, study_id: StudyId) -> OpenWork:
        active = select(func.count()).where(
            _PARTICIPANTS.c.study_id == study_id,
            _PARTICIPANTS.c.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
        scheduled = select(func.count()).where(
            _VISITS.c.study_id == study_id, _VISITS.c.status == VisitStatus.SCHEDULED.value
        )
        return OpenWork(
            active_participants=(await self._session.execute(active)).scalar_one(),
            scheduled_visits=(await self._session.execute(scheduled)).scalar_one(),
        )

    async def participant_ids(self, study_id: StudyId) -> Sequence[ParticipantId]:
        query = (
            select(_PARTICIPANTS.c.id)
            .where(_PARTICIPANTS.c.study_id == study_id)
            .order_by(_PARTICIPANTS.c.id)
        )
        return [ParticipantId(r.id) for r in await self._session.execute(query)]

    def _by_id(self, study_id: StudyId) -> Select[tuple[object, ...]]:
        return select(_STUDIES).where(_STUDIES.c.id == study_id)

    async def _one(self, query: Select[tuple[object, ...]]) -> Study | None:
        row = (await self._session.execute(query)).first()
        return _study(row._mapping) if row else None


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

    async def update(self, site: Site) -> None:
        statement = (
            update(_SITES)
            .where(_SITES.c.id == site.id, _SITES.c.version == site.version - 1)
            .values(row_values(site, exclude=frozenset({"id"})))
            .returning(_SITES.c.id)
        )
        if (await self._session.execute(statement)).first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The site changed meanwhile; reload and retry."
            )

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
