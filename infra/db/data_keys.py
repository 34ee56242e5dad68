"""Per-subject data keys and the field cipher that seals personal values with them.

Keys are fetched and unwrapped per unit of work and never cached across transactions:
after an erasure in one process, no other process can keep decrypting from memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import Clock
from domain.ids import new_id
from infra.crypto import envelope
from infra.crypto.blind_index import Normaliser, blind_index
from infra.crypto.envelope import DecryptionError
from infra.crypto.keys import KeyProvider, Purpose, WrappedKey
from infra.db.tables import DataKeyRow

_TABLE = DataKeyRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, repr=False)
class DataKey:
    id: uuid.UUID
    owner_id: uuid.UUID
    secret: bytes


def wrap_context(key_id: uuid.UUID, owner_id: uuid.UUID) -> bytes:
    """A wrapped key only unwraps as the key of the subject it was made for."""
    return b"hearth/v1/data-key" + key_id.bytes + owner_id.bytes


class DataKeyStore:
    def __init__(self, session: AsyncSession, provider: KeyProvider, clock: Clock) -> None:
        self._session = session
        self._provider = provider
        self._clock = clock
        self._by_owner: dict[uuid.UUID, DataKey | None] = {}

    async def create(self, owner_id: uuid.UUID, owner_kind: str) -> DataKey:
        key = DataKey(id=new_id(), owner_id=owner_id, secret=envelope.new_data_key())
        wrapped = self._provider.wrap(key.secret, context=wrap_context(key.id, owner_id))
        await self._session.execute(
            insert(_TABLE).values(
                id=key.id,
                owner_id=owner_id,
                owner_kind=owner_kind,
                kek_id=wrapped.kek_id,
                wrapped=wrapped.blob,
                created_at=self._clock.now(),
            )
        )
        self._by_owner[owner_id] = key
        return key

    async def for_owner(self, owner_id: uuid.UUID) -> DataKey | None:
        """The subject's key, or None once it has been destroyed (crypto-shredded)."""
        if owner_id not in self._by_owner:
            await self.load([owner_id])
        return self._by_owner.get(owner_id)

    async def load(self, owner_ids: Iterable[uuid.UUID]) -> None:
        """Fetch and unwrap several subjects' keys in one query."""
        wanted = {o for o in owner_ids if o not in self._by_owner}
        if not wanted:
            return
        rows = await self._session.execute(select(_TABLE).where(_TABLE.c.owner_id.in_(wanted)))
        for row in rows:
            self._by_owner[row.owner_id] = self._unwrap(
                row.id, row.owner_id, row.kek_id, row.wrapped
            )
        for owner in wanted - self._by_owner.keys():
            self._by_owner[owner] = None

    def _unwrap(
        self, key_id: uuid.UUID, owner_id: uuid.UUID, kek_id: str, blob: bytes | None
    ) -> DataKey | None:
        if blob is None:
            return None
        wrapped = WrappedKey(kek_id=kek_id, blob=blob)
        secret = self._provider.unwrap(wrapped, context=wrap_context(key_id, owner_id))
        return DataKey(id=key_id, owner_id=owner_id, secret=secret)

    def now(self) -> datetime:
        return self._clock.now()

    async def destroy(self, owner_id: uuid.UUID) -> bool:
        """Crypto-shred: forget the wrapped key. Returns False if there was none to destroy."""
        result = await self._session.execute(
            update(_TABLE)
            .where(_TABLE.c.owner_id == owner_id, _TABLE.c.wrapped.is_not(None))
            .values(wrapped=None, destroyed_at=self._clock.now())
            .returning(_TABLE.c.id)
        )
        self._by_owner[owner_id] = None
        return result.first() is not None


class FieldCipher:
    """Seals and opens personal values with their subject's data key, bound to table/column/row."""

    def __init__(self, keys: DataKeyStore, provider: KeyProvider) -> None:
        self.keys = keys
        self._index_key = provider.purpose_key(Purpose.BLIND_INDEX)

    async def seal(
        self, owner_id: uuid.UUID, table: str, column: str, row_id: uuid.UUID, value: str
    ) -> bytes:
        key = await self.keys.for_owner(owner_id)
        if key is None:
            raise DecryptionError("the data subject's key has been destroyed")
        context = envelope.field_context(table, column, row_id)
        return envelope.seal_text(key.secret, key.id, value, context)

    async def open(
        self, owner_id: uuid.UUID, table: str, column: str, row_id: uuid.UUID, blob: bytes
    ) -> str | None:
        """The plaintext, or None if the subject's key was destroyed (erased)."""
        key = await self.keys.for_owner(owner_id)
        if key is None:
            return None
        context = envelope.field_context(table, column, row_id)
        return envelope.open_text(key.secret, blob, context)

    def index(self, field: str, value: str, normalise: Normaliser) -> bytes:
        return blind_index(self._index_key, field, value, normalise=normalise)


class DataKeyAdmin:
    """Key administration inside a unit of work: rotate, re-wrap, destroy."""

    _BATCH = 1000

    def __init__(self, store: DataKeyStore, provider: KeyProvider, session: AsyncSession) -> None:
        self._store = store
        self._provider = provider
        self._session = session

    def rotate_kek(self) -> tuple[str, str]:
        old = self._provider.current_kek_id
        return old, self._provider.rotate()

    async def rewrap_all(self) -> int:
        """Unwrap each live data key with its old KEK and wrap it with the current one.

        Only the wrapping changes: data sealed under the data keys is not touched.
        """
        current = self._provider.current_kek_id
        stale = (_TABLE.c.wrapped.is_not(None)) & (_TABLE.c.kek_id != current)
        count = 0
        while rows := (
            await self._session.execute(select(_TABLE).where(stale).limit(self._BATCH))
        ).all():
            updates = [self._rewrapped(row) for row in rows]
            await self._session.execute(
                update(_TABLE)
                .where(_TABLE.c.id == bindparam("key_id"))
                .values(
                    kek_id=bindparam("new_kek"),
                    wrapped=bindparam("new_blob"),
                    rewrapped_at=bindparam("at"),
                ),
                updates,
            )
            count += len(updates)
        return count

    def _rewrapped(self, row: Any) -> dict[str, Any]:
        context = wrap_context(row.id, row.owner_id)
        secret = self._provider.unwrap(WrappedKey(row.kek_id, row.wrapped), context=context)
        wrapped = self._provider.wrap(secret, context=context)
        return {
            "key_id": row.id,
            "new_kek": wrapped.kek_id,
            "new_blob": wrapped.blob,
            "at": self._store.now(),
        }

    async def destroy(self, owner_id: uuid.UUID) -> bool:
        return await self._store.destroy(owner_id)
