"""The installation's identity and the keys it is bound to.

The first start records fingerprints of the key file's keys in the database; from then on
a key file whose keys differ, or no key file at all, is refused before anything acts with
it. An installation from before the binding is bound on its first start, but only to a key
file that holds every key-encryption key its data keys name and whose checkpoint key signed
its checkpoints.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select, text
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import Clock
from infra.crypto.keys import KeyFileProvider, fingerprint
from infra.db.tables import (
    AuditEventRow,
    CheckpointRow,
    DataKeyRow,
    InstallationKeyRow,
    InstallationRow,
)

_INSTALLATION = InstallationRow.__table__  # type: ignore[attr-defined]
_KEYS = InstallationKeyRow.__table__  # type: ignore[attr-defined]
_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_DATA_KEYS = DataKeyRow.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
_BIND_LOCK = 0x4845_4152_5448_4B42  # "HEARTHKB": two first starts bind one set of keys


class KeysRefused(Exception):
    """The key file does not belong to this installation (or is missing for it)."""


async def installation_id(session: AsyncSession) -> uuid.UUID:
    found: uuid.UUID | None = await session.scalar(select(_INSTALLATION.c.id).limit(1))
    if found is None:
        raise KeysRefused("the database has no installation record: run `hearth migrate`")
    return found


def fingerprints(keys: KeyFileProvider, checkpoint_key_id: str) -> dict[str, str]:
    return {"root-secret": fingerprint(keys), "checkpoint-signing": checkpoint_key_id}


async def bind(
    session: AsyncSession, keys: KeyFileProvider, checkpoint_key_id: str, clock: Clock
) -> None:
    """Check the keys against the installation, binding them on the very first start.

    Raises KeysRefused with one line saying what is wrong; writes the key file only for
    an installation that has no keys yet and no data.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _BIND_LOCK})
    mine = fingerprints(keys, checkpoint_key_id)
    recorded = await _recorded(session)
    where = keys.path
    if recorded:
        if not keys.saved:
            raise KeysRefused(
                f"No key file at {where}, but this installation's keys were set up: point "
                "HEARTH_KEY_FILE at its key file (new keys would make its data unreadable)."
            )
        if any(recorded.get(purpose) != value for purpose, value in mine.items()):
            raise KeysRefused(
                f"The key file {where} holds other keys than this installation was set up "
                "with: point HEARTH_KEY_FILE at the installation's own key file."
            )
        await _kek_check(session, keys)
        return
    if await _has_data(session):
        if not keys.saved:
            raise KeysRefused(
                f"No key file at {where}, but the database already holds data: point "
                "HEARTH_KEY_FILE at its key file (new keys would make its data unreadable)."
            )
        await _kek_check(session, keys)
        await _signed_its_checkpoints(session, checkpoint_key_id, where)
    keys.save()
    now = clock.now()
    await session.execute(
        upsert(_KEYS)
        .values([{"purpose": p, "fingerprint": f, "recorded_at": now} for p, f in mine.items()])
        .on_conflict_do_nothing()
    )


async def matches(session: AsyncSession, keys: KeyFileProvider, checkpoint_key_id: str) -> bool:
    """For /readyz: the keys in use are the ones the installation is bound to."""
    recorded = await _recorded(session)
    return keys.saved and recorded == fingerprints(keys, checkpoint_key_id)


async def _recorded(session: AsyncSession) -> dict[str, str]:
    rows = await session.execute(select(_KEYS.c.purpose, _KEYS.c.fingerprint))
    return {r.purpose: r.fingerprint for r in rows}


async def _has_data(session: AsyncSession) -> bool:
    found = await session.scalar(
        select(exists(select(_EVENTS.c.ingest)) | exists(select(_DATA_KEYS.c.id)))
    )
    return bool(found)


async def _kek_check(session: AsyncSession, keys: KeyFileProvider) -> None:
    named = set((await session.scalars(select(_DATA_KEYS.c.kek_id).distinct())).all())
    if missing := named - set(keys.kek_ids):
        raise KeysRefused(
            f"The key file {keys.path} lacks {len(missing)} key-encryption key(s) this "
            "installation's data keys were wrapped with: it is another or an older key file."
        )


async def _signed_its_checkpoints(session: AsyncSession, key_id: str, where: object) -> None:
    signers = set(
        (
            await session.scalars(
                select(_CHECKPOINTS.c.key_id).where(_CHECKPOINTS.c.note.is_(None)).distinct()
            )
        ).all()
    )
    if signers - {key_id}:
        raise KeysRefused(
            f"The key file {where} did not sign this installation's checkpoints: point "
            "HEARTH_KEY_FILE at the installation's own key file."
        )
