"""Repository for participants; the screening number is sealed with the participant's key and
kept unique per study by a blind index, so a duplicate is refused by the database itself."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, RowMapping, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import ReadFilter
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId
from domain.pagination import Page, PageRequest
from domain.participants import Participant, ParticipantStatus
from domain.schedules import ZoneChange
from infra.crypto.blind_index import exact
from infra.db.data_keys import FieldCipher, key_ids
from infra.db.keyset import keyset_page
from infra.db.mapping import row_values
from infra.db.tables import ParticipantRow, ParticipantZoneRow
from infra.db.visibility import visible_rows

_TABLE = ParticipantRow.__table__  # type: ignore[attr-defined]
_ZONES = ParticipantZoneRow.__table__  # type: ignore[attr-defined]
_NAME = "participants"
_NUMBER = "screening_number"
_IDENTIFIER_COLUMNS = frozenset(
    {"screening_number_sealed", "screening_number_index", "legacy_screening_number"}
)
# Erasure: the key is destroyed, and without the index nobody holding the index key can test
# whether a screening number was this participant's.
_FORGOTTEN: dict[str, Any] = dict.fromkeys(_IDENTIFIER_COLUMNS)


def screening_number_index(cipher: FieldCipher, study_id: uuid.UUID, number: str) -> bytes:
    # Scoped to the study: equal numbers in two studies do not give linkable indexes.
    return cipher.index(f"{_NAME}.{_NUMBER}", f"{study_id}\x1f{number}", exact)


async def sealed_screening_number(
    cipher: FieldCipher, participant_id: uuid.UUID, study_id: uuid.UUID, number: str
) -> dict[str, Any]:
    """The column values that store a screening number: sealed, indexed, no plaintext."""
    return {
        "screening_number_sealed": await cipher.seal(
            participant_id, _NAME, _NUMBER, participant_id, number
        ),
        "screening_number_index": screening_number_index(cipher, study_id, number),
        "legacy_screening_number": None,
    }


class SqlParticipantRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    async def try_add(self, participant: Participant) -> bool:
        # Each participant gets their own data key: erasing it shreds their personal data.
        # It exists before the row, because the row's screening number is sealed with it.
        if await self._cipher.keys.live(participant.id) is None:
            await self._cipher.keys.create(participant.id, "participant")
        values = row_values(participant, exclude=frozenset({_NUMBER}))
        if participant.screening_number is not None:
            values |= await sealed_screening_number(
                self._cipher, participant.id, participant.study_id, participant.screening_number
            )
        statement = (
            pg_insert(_TABLE)
            .values(values)
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
        return True

    async def _participants(self, rows: Sequence[Row[Any]]) -> list[Participant]:
        await self._cipher.keys.load(key_ids(r.screening_number_sealed for r in rows))
        return [await self._participant(r._mapping) for r in rows]

    async def _participant(self, row: RowMapping) -> Participant:
        values = {k: v for k, v in row.items() if k not in _IDENTIFIER_COLUMNS}
        values["status"] = ParticipantStatus(row["status"])
        return Participant(**values, screening_number=await self._screening_number(row))

    async def _screening_number(self, row: RowMapping) -> str | None:
        if row["legacy_screening_number"] is not None:  # written before 0008, not sealed yet
            return str(row["legacy_screening_number"])
        blob = row["screening_number_sealed"]
        if blob is None:
            return None
        return await self._cipher.open(row["id"], _NAME, _NUMBER, row["id"], blob)

    async def get(self, participant_id: ParticipantId) -> Participant | None:
        query = select(_TABLE).where(_TABLE.c.id == participant_id)
        row = (await self._session.execute(query)).first()
        return await self._participant(row._mapping) if row else None

    async def lock(self, participant_id: ParticipantId) -> Participant | None:
        query = select(_TABLE).where(_TABLE.c.id == participant_id).with_for_update()
        row = (await self._session.execute(query)).first()
        return await self._participant(row._mapping) if row else None

    async def get_many(self, ids: Sequence[ParticipantId]) -> Sequence[Participant]:
        result = await self._session.execute(select(_TABLE).where(_TABLE.c.id.in_(ids)))
        return await self._participants(result.all())

    async def update(self, participant: Participant) -> None:
        # Optimistic concurrency: only the version we read may be replaced. The screening
        # number never changes after registration; erasure forgets it.
        values = row_values(participant, exclude=frozenset({"id", _NUMBER}))
        if participant.erased_at is not None:
            values |= _FORGOTTEN
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id == participant.id, _TABLE.c.version == participant.version - 1)
            .values(values)
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
        return found.with_items(await self._participants(found.items))
