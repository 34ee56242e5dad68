"""Sealing the identifiers that versions before migration 0008 stored in the clear.

A migration cannot read the key file, so 0008 only moved the old plaintext into `legacy_*`
columns. This runs where the keys are (every `hearth migrate` and every server start): it
seals each remaining screening number and serial, writes its blind index, and empties the
plaintext. It is idempotent, and processes running it at once share the work (rows are
claimed with SKIP LOCKED). Erased participants' numbers are dropped, never sealed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock
from infra.crypto.keys import KeyProvider
from infra.db.data_keys import DataKeyStore, FieldCipher
from infra.db.devices import sealed_serial
from infra.db.participants import sealed_screening_number
from infra.db.tables import DeviceRow, ParticipantRow

_PEOPLE: Table = ParticipantRow.__table__  # type: ignore[attr-defined]
_DEVICES: Table = DeviceRow.__table__  # type: ignore[attr-defined]
BATCH = 500
_SEALED_NUMBER = ("legacy_screening_number", "screening_number_sealed", "screening_number_index")


@dataclass(frozen=True)
class Converted:
    screening_numbers: int = 0
    serials: int = 0
    dropped: int = 0  # screening numbers of erased participants: emptied, not sealed

    @property
    def total(self) -> int:
        return self.screening_numbers + self.serials + self.dropped


async def pending(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether any plaintext identifier is left (cheap: run before opening any keys)."""
    async with sessions() as session:
        left = select(
            exists().where(_PEOPLE.c.legacy_screening_number.is_not(None))
            | exists().where(_DEVICES.c.legacy_serial.is_not(None))
        )
        return bool(await session.scalar(left))


async def seal_legacy_identifiers(
    sessions: async_sessionmaker[AsyncSession], keys: Callable[[], KeyProvider], clock: Clock
) -> Converted:
    """Seal every plaintext identifier left, a batch per transaction; `keys` is only called
    when there is something to seal."""
    if not await pending(sessions):
        return Converted()
    provider = keys()
    done = Converted()
    while True:
        async with sessions() as session, session.begin():
            cipher = FieldCipher(DataKeyStore(session, provider, clock), provider)
            batch = await _participants(session, cipher)
            batch = _add(batch, await _devices(session, cipher))
        if batch.total == 0:
            return done
        done = _add(done, batch)


def _add(a: Converted, b: Converted) -> Converted:
    return Converted(
        a.screening_numbers + b.screening_numbers, a.serials + b.serials, a.dropped + b.dropped
    )


def _claim(table: Table, column: str, *extra: Any) -> Any:
    return (
        select(table.c.id, table.c.study_id, table.c[column], *extra)
        .where(table.c[column].is_not(None))
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )


async def _participants(session: AsyncSession, cipher: FieldCipher) -> Converted:
    rows = (
        await session.execute(_claim(_PEOPLE, "legacy_screening_number", _PEOPLE.c.erased_at))
    ).all()
    updates: list[dict[str, Any]] = []
    for row in rows:
        if row.erased_at is not None:  # the key is gone: the number is forgotten, not sealed
            values: dict[str, Any] = dict.fromkeys(_SEALED_NUMBER)
        else:
            number = row.legacy_screening_number
            values = await sealed_screening_number(cipher, row.id, row.study_id, number)
        updates.append({"row_id": row.id, **values})
    await _write(session, _PEOPLE, updates)
    dropped = sum(1 for r in rows if r.erased_at is not None)
    return Converted(screening_numbers=len(rows) - dropped, dropped=dropped)


async def _devices(session: AsyncSession, cipher: FieldCipher) -> Converted:
    rows = (await session.execute(_claim(_DEVICES, "legacy_serial"))).all()
    updates = []
    for row in rows:
        # A device written before 0008 has no key yet: sealing and this key commit together.
        await cipher.keys.create(row.id, "device")
        values = await sealed_serial(cipher, row.id, row.study_id, row.legacy_serial)
        updates.append({"row_id": row.id, **values})
    await _write(session, _DEVICES, updates)
    return Converted(serials=len(rows))


async def _write(session: AsyncSession, table: Table, updates: list[dict[str, Any]]) -> None:
    """One executemany for the batch: the rows' ids in `row_id`, the new values beside."""
    if updates:
        await session.execute(update(table).where(table.c.id == bindparam("row_id")), updates)
