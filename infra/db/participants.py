"""Repository for participants."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import RowMapping, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import ReadFilter
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId
from domain.pagination import Page, PageRequest
from domain.participants import Participant, ParticipantStatus
from domain.schedules import ZoneChange
from infra.db.data_keys import FieldCipher
from infra.db.keyset import keyset_page
from infra.db.mapping import row_values
from infra.db.tables import ParticipantRow, ParticipantZoneRow
from infra.db.visibility import visible_rows

_TABLE = ParticipantRow.__table__  # type: ignore[attr-defined]
_ZONES = ParticipantZoneRow.__table__  # type: ignore[attr-defined]


def _participant(row: RowMapping) -> Participant:
    return Participant(**{**row, "status": ParticipantStatus(row["status"])})


class SqlParticipantRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    async def try_add(self, participant: Participant) -> bool:
        statement = (
            pg_insert(_TABLE)
            .values(row_values(participant))
            .on_conflict_do_nothing(index_elements=["study_id", "subject_id"])
            .returning(_TABLE.c.id)
        )
        try:
            inserted = (await self._session.execute(statement)).first()
        except IntegrityError as error:
            raise AlreadyExists(
                "A participant with this screening number", field="screening_number"
            ) from error
        if inserted is None:
            return False
        await self.add_zone(
            participant.id,
            ZoneChange(effective_from=participant.registered_at, timezone=participant.timezone),
        )
        # Each participant gets their own data key: erasing it shreds their personal data.
        await self._cipher.keys.create(participant.id, "participant")
        return True

    async def get(self, participant_id: ParticipantId) -> Participant | None:
        query = select(_TABLE).where(_TABLE.c.id == participant_id)
        row = (await self._session.execute(query)).first()
        return _participant(row._mapping) if row else None

    async def lock(self, participant_id: ParticipantId) -> Participant | None:
        query = select(_TABLE).where(_TABLE.c.id == participant_id).with_for_update()
        row = (await self._session.execute(query)).first()
        return _participant(row._mapping) if row else None

    async def get_many(self, ids: Sequence[ParticipantId]) -> Sequence[Participant]:
        result = await self._session.execute(select(_TABLE).where(_TABLE.c.id.in_(ids)))
        return [_participant(r._mapping) for r in result]

    async def update(self, participant: Participant) -> None:
        # Optimistic concurrency: only the version we read may be replaced.
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id == participant.id, _TABLE.c.version == participant.version - 1)
            .values(row_values(participant, exclude=frozenset({"id"})))
            .returning(_TABLE.c.id)
        )
        if (await self._session.execute(statement)).first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The participant changed meanwhile; reload and retry."
            )

    async def zones(self, participant_id: ParticipantId) -> Sequence[ZoneChange]:
        rows = await self._session.execute(
            select(_ZONES)
            .where(_ZONES.c.participant_id == participant_id)
            .order_by(_ZONES.c.effective_from)
        )
        return [ZoneChange(effective_from=r.effective_from, timezone=r.timezone) for r in rows]

    async def add_zone(self, participant_id: ParticipantId, change: ZoneChange) -> None:
        # Two reports at the same instant: the later one is the zone in force from then on.
        statement = pg_insert(_ZONES).values(
            participant_id=participant_id,
            effective_from=change.effective_from,
            timezone=change.timezone,
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["participant_id", "effective_from"],
                set_={"timezone": statement.excluded.timezone},
            )
        )

    async def page(
        self,
        *,
        site_ids: Sequence[SiteId],
        visible: ReadFilter,
        status: ParticipantStatus | None,
        request: PageRequest,
    ) -> Page[Participant]:
        query = select(_TABLE).where(
            _TABLE.c.site_id.in_(site_ids),
            visible_rows(
                visible, study=_TABLE.c.study_id, site=_TABLE.c.site_id, participant=_TABLE.c.id
            ),
        )
        if status is not None:
            query = query.where(_TABLE.c.status == status.value)
        found = await keyset_page(self._session, query, [_TABLE.c.id], [uuid.UUID], request)
        return found.with_items([_participant(r._mapping) for r in found.items])
