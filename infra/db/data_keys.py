"""Per-subject data keys and the field cipher that seals personal values with them.

Keys are fetched and unwrapped per unit of work and never cached across transactions:
after an erasure in one process, no other process can keep decrypting from memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
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


def key_ids(blobs: Iterable[bytes | None]) -> set[uuid.UUID]:
    """The key ids named in the headers of sealed values (malformed ones are skipped)."""
    found = set()
    for blob in blobs:
        if blob is not None:
            with contextlib.suppress(DecryptionError):
                found.add(envelope.key_id_of(blob))
    return found


class DataKeyStore:
    """Data keys of one unit of work: one live key per subject, earlier ones by id.

    Erasure destroys a subject's live key. Anything sealed later (say, the reason for a status
    change after erasure) gets a new key generation, so the old ciphertexts stay unreadable
    while new records can still be written. Ciphertexts name their key id in their header.
    """

    def __init__(self, session: AsyncSession, provider: KeyProvider, clock: Clock) -> None:
        self._session = session
        self._provider = provider
        self._clock = clock
        self._live: dict[uuid.UUID, DataKey | None] = {}
        self._by_id: dict[uuid.UUID, DataKey | None] = {}

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
        self._live[owner_id] = self._by_id[key.id] = key
        return key

    async def live(self, owner_id: uuid.UUID) -> DataKey | None:
        """The subject's current key, or None if it was destroyed and none made since."""
        if owner_id not in self._live:
            query = select(_TABLE).where(
                _TABLE.c.owner_id == owner_id, _TABLE.c.wrapped.is_not(None)
            )
            row = (await self._session.execute(query)).first()
            self._live[owner_id] = self._remember(row) if row else None
        return self._live[owner_id]

    async def for_sealing(self, owner_id: uuid.UUID) -> DataKey:
        """The live key, or a new generation after an erasure."""
        key = await self.live(owner_id)
        if key is not None:
            return key
        kind = (
            await self._session.execute(
                select(_TABLE.c.owner_kind).where(_TABLE.c.owner_id == owner_id).limit(1)
            )
        ).scalar_one_or_none()
        if kind is None:
            raise DecryptionError("no data key was ever made for this data subject")
        return await self.create(owner_id, kind)

    async def load(self, key_ids: Iterable[uuid.UUID]) -> None:
        """Fetch and unwrap several keys in one query (for pages of sealed values)."""
        wanted = {k for k in key_ids if k not in self._by_id}
        if not wanted:
            return
        for row in await self._session.execute(select(_TABLE).where(_TABLE.c.id.in_(wanted))):
            self._remember(row)
        for missing in wanted - self._by_id.keys():
            self._by_id[missing] = None

    async def by_id(self, key_id: uuid.UUID) -> DataKey | None:
        """A key by id; None if it was destroyed (crypto-shredded) or never existed."""
        await self.load([key_id])
        return self._by_id[key_id]

    def _remember(self, row: Any) -> DataKey | None:
        key = None
        if row.wrapped is not None:
            wrapped = WrappedKey(kek_id=row.kek_id, blob=row.wrapped)
            secret = self._provider.unwrap(wrapped, context=wrap_context(row.id, row.owner_id))
            key = DataKey(id=row.id, owner_id=row.owner_id, secret=secret)
        self._by_id[row.id] = key
        return key

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
        destroyed = [r.id for r in result]
        self._live[owner_id] = None
        self._by_id.update(dict.fromkeys(destroyed))
        return bool(destroyed)


class FieldCipher:
    """Seals and opens personal values with their subject's data key, bound to table/column/row."""

    def __init__(self, keys: DataKeyStore, provider: KeyProvider) -> None:
        self.keys = keys
        self._index_key = provider.purpose_key(Purpose.BLIND_INDEX)

    async def seal(
        self, owner_id: uuid.UUID, table: str, column: str, row_id: uuid.UUID, value: str
    ) -> bytes:
        key = await self.keys.for_sealing(owner_id)
        context = envelope.field_context(table, column, row_id)
        return envelope.seal_text(key.secret, key.id, value, context)

    async def keyed_digest(self, owner_id: uuid.UUID, purpose: str, value: str) -> str:
        """HMAC-SHA256 of `value` under the owner's live data key (hex): comparable while the
        key lives, meaningless once it is destroyed."""
        key = await self.keys.for_sealing(owner_id)
        message = f"{purpose}\x1f{value}".encode()
        return hmac.new(key.secret, message, hashlib.sha256).hexdigest()

    async def open(
        self, owner_id: uuid.UUID, table: str, column: str, row_id: uuid.UUID, blob: bytes
    ) -> str | None:
        """The plaintext, or None if the key that sealed it was destroyed (erased).

        A ciphertext sealed for another subject does not open: the key must be the owner's.
        """
        key = await self.keys.by_id(envelope.key_id_of(blob))
        if key is None:
            return None
        if key.owner_id != owner_id:
            raise DecryptionError()
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

        Only the wrapping changes: data sealed under the data keys is not touched. Rows are
        locked while re-wrapped, and the update still requires the key to be live, so an
        erasure running at the same time is never undone.
        """
        current = self._provider.current_kek_id
        count, after = 0, uuid.UUID(int=0)
        while True:
            rows = (
                await self._session.execute(
                    select(_TABLE)
                    .where(
                        _TABLE.c.id > after,
                        _TABLE.c.wrapped.is_not(None),
                        _TABLE.c.kek_id != current,
                    )
                    .order_by(_TABLE.c.id)
                    .limit(self._BATCH)
                    .with_for_update()
                )
            ).all()
            if not rows:
                return count
            for row in rows:
                changed = await self._session.execute(
                    update(_TABLE)
                    .where(_TABLE.c.id == row.id, _TABLE.c.wrapped == row.wrapped)
                    .values(**self._rewrapped(row))
                    .returning(_TABLE.c.id)
                )
                count += len(changed.all())
            after = rows[-1].id

    def _rewrapped(self, row: Any) -> dict[str, Any]:
        context = wrap_context(row.id, row.owner_id)
        secret = self._provider.unwrap(WrappedKey(row.kek_id, row.wrapped), context=context)
        wrapped = self._provider.wrap(secret, context=context)
        return {
            "kek_id": wrapped.kek_id,
            "wrapped": wrapped.blob,
            "rewrapped_at": self._store.now(),
        }

    async def destroy(self, owner_id: uuid.UUID) -> bool:
        return await self._store.destroy(owner_id)
