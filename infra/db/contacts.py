"""Repository for participants' contact details: sealed per value, found by blind index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import RowMapping, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import Clock
from domain.contacts import ContactDetails, ContactField
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, StudyId
from infra.crypto.blind_index import normalise_email, normalise_phone
from infra.db.data_keys import FieldCipher
from infra.db.tables import ContactRow, PushSubscriptionRow

_TABLE = ContactRow.__table__  # type: ignore[attr-defined]
_PUSH = PushSubscriptionRow.__table__  # type: ignore[attr-defined]
_NAME = "participant_contacts"
_FIELDS = tuple(f.value for f in ContactField)


class SqlContactRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher, clock: Clock) -> None:
        self._session = session
        self._cipher = cipher
        self._clock = clock

    def _email_index(self, email: str) -> bytes:
        return self._cipher.index(f"{_NAME}.email", email, normalise_email)

    def _phone_index(self, phone: str) -> bytes:
        return self._cipher.index(f"{_NAME}.phone", phone, normalise_phone)

    async def get(self, participant_id: ParticipantId) -> ContactDetails | None:
        query = select(_TABLE).where(_TABLE.c.participant_id == participant_id)
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        values = {f: await self._open(row._mapping, f) for f in _FIELDS}
        birth = values.pop("date_of_birth")
        return ContactDetails(
            id=participant_id,
            date_of_birth=date.fromisoformat(birth) if birth else None,
            version=row.version,
            **values,
        )

    async def _open(self, row: RowMapping, field: str) -> str | None:
        blob = row[f"{field}_sealed"]
        if blob is None:
            return None
        return await self._cipher.open(
            row["participant_id"], _NAME, field, row["participant_id"], blob
        )

    async def save(self, contact: ContactDetails, study_id: StudyId) -> None:
        values = await self._sealed(contact)
        values["updated_at"] = self._clock.now()
        values["version"] = contact.version
        if contact.version == 1:
            await self._session.execute(
                insert(_TABLE).values(participant_id=contact.id, study_id=study_id, **values)
            )
            return
        statement = (
            update(_TABLE)
            .where(_TABLE.c.participant_id == contact.id, _TABLE.c.version == contact.version - 1)
            .values(**values)
            .returning(_TABLE.c.participant_id)
        )
        if (await self._session.execute(statement)).first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The details changed meanwhile; reload and retry."
            )

    async def _sealed(self, contact: ContactDetails) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field in _FIELDS:
            value = getattr(contact, field)
            text = value.isoformat() if isinstance(value, date) else value
            values[f"{field}_sealed"] = (
                await self._cipher.seal(contact.id, _NAME, field, contact.id, text)
                if text
                else None
            )
        values["email_index"] = self._email_index(contact.email) if contact.email else None
        values["phone_index"] = self._phone_index(contact.phone) if contact.phone else None
        return values

    async def find(
        self, study_id: StudyId, *, email: str | None, phone: str | None
    ) -> Sequence[ParticipantId]:
        clauses = []
        if email and email.strip():
            clauses.append(_TABLE.c.email_index == self._email_index(email))
        if phone and phone.strip():
            clauses.append(_TABLE.c.phone_index == self._phone_index(phone))
        query = select(_TABLE.c.participant_id).where(_TABLE.c.study_id == study_id, or_(*clauses))
        return [ParticipantId(r.participant_id) for r in await self._session.execute(query)]

    async def erase(self, participant_id: ParticipantId) -> None:
        # The key is destroyed as well; removing the blind indexes too means nobody holding
        # the index key can test whether an e-mail or phone number belonged to this participant.
        await self._session.execute(delete(_TABLE).where(_TABLE.c.participant_id == participant_id))
        # Push endpoints reach the person as well, and carry a blind index of their own.
        await self._session.execute(delete(_PUSH).where(_PUSH.c.participant_id == participant_id))
