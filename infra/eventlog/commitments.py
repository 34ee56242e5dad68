"""Personal values against the commitments their events logged.

Each one must still be there and open to exactly what was committed, unless a logged
redaction cleared it or a logged erasure destroyed its subject's key. Only the events that
commit to personal values (or redact or erase some) are read: a partial index finds them.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.crypto.envelope import DecryptionError
from infra.db.data_keys import FieldCipher, key_ids
from infra.db.tables import AuditChainRow, AuditEventRow, SealedValueRow
from infra.eventlog.logs import Log
from infra.eventlog.sealing import REASON_FIELD, TABLE, redaction_ref, reveal
from infra.eventlog.walk import Problem

_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_CHAIN = AuditChainRow.__table__  # type: ignore[attr-defined]
_SEALED = SealedValueRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Where:
    log: str
    position: int | None
    order: int  # insertion order: redactions must come after what they clear

    def problem(self, reason: str) -> Problem:
        return Problem(self.log, self.position, reason)


@dataclass
class Counts:
    sealed_values: int = 0
    redacted: int = 0
    erased: int = 0


@dataclass
class _Logged:
    # (event id, field, side) -> (where, commitment, whose key must have sealed it)
    commitments: dict[tuple[uuid.UUID, str, str], tuple[_Where, str, uuid.UUID | None]] = field(
        default_factory=dict
    )
    redacted: dict[str, _Where] = field(default_factory=dict)  # reference -> redaction
    erased: set[uuid.UUID] = field(default_factory=set)  # subjects with a logged erasure


async def check(
    session: AsyncSession, cipher: FieldCipher, installation: uuid.UUID, counts: Counts
) -> list[Problem]:
    """Every problem with a personal value, earliest first."""
    logged = await _logged(session, installation)
    rows = (await session.execute(select(_SEALED))).all()
    with contextlib.suppress(DecryptionError):  # a bad key shows up below, value by value
        await cipher.keys.load(key_ids(r.sealed for r in rows))
    problems: list[tuple[int, Problem]] = []
    present = set()
    for row in rows:
        key = (row.event_id, row.field, row.side)
        present.add(key)
        if key in logged.commitments:
            where, commitment, owner = logged.commitments[key]
            reason = await _check_value(
                cipher,
                row,
                where=where,
                commitment=commitment,
                owner=owner,
                logged=logged,
                counts=counts,
            )
            if reason is not None:
                problems.append((where.order, where.problem(reason)))
    problems += [
        (where.order, where.problem("a personal value it commits to has been deleted"))
        for k, (where, _, _) in logged.commitments.items()
        if k not in present
    ]
    return [p for _, p in sorted(problems, key=lambda found: found[0])]


async def _logged(session: AsyncSession, installation: uuid.UUID) -> _Logged:
    rows = await session.execute(
        select(_EVENTS, _CHAIN.c.seq)
        .outerjoin(_CHAIN, _CHAIN.c.ingest == _EVENTS.c.ingest)
        .where(_EVENTS.c.personal)
        .order_by(_EVENTS.c.ingest)
    )
    logged = _Logged()
    for row in rows:
        where = _Where(Log(installation, row.log_id).origin, row.seq, row.ingest)
        _remember(logged, row._mapping, where)
    return logged


def _owner(row: Any) -> uuid.UUID | None:
    """Whose key seals an event's personal values: the participant's, or the staff user's."""
    if row["participant_id"] is not None:
        return row["participant_id"]  # type: ignore[no-any-return]
    return row["entity_id"] if row["entity_type"] == "StaffUser" else None


def _remember(logged: _Logged, row: Any, where: _Where) -> None:
    event_id, owner = row["id"], _owner(row)
    for entry in row["fields"]:
        if entry.get("personal"):
            for side in ("old", "new"):
                if entry.get(side) is not None:
                    logged.commitments[(event_id, entry["field"], side)] = (
                        where,
                        entry[side],
                        owner,
                    )
        if row["action"] == "redacted" and entry["field"] == "redacted_values":
            logged.redacted.update(dict.fromkeys(entry.get("new") or [], where))
    if row["action"] == "erased" and row["entity_type"] == "Participant":
        logged.erased.add(row["entity_id"])
    sealed_reason = (row["reason"] or {}).get("sealed")
    if sealed_reason is not None:
        logged.commitments[(event_id, REASON_FIELD, "new")] = (where, sealed_reason, owner)


async def _check_value(
    cipher: FieldCipher,
    row: Any,
    *,
    where: _Where,
    commitment: str,
    owner: uuid.UUID | None,
    logged: _Logged,
    counts: Counts,
) -> str | None:
    if owner is not None and row.owner_id != owner:
        return "a sealed personal value was moved to another data subject"
    if row.sealed is None:
        redaction = logged.redacted.get(redaction_ref(row.event_id, row.field, row.side))
        if redaction is None or redaction.order < where.order:
            return "a personal value was removed without a logged redaction"
        counts.redacted += 1
        return None
    column = f"{row.field}:{row.side}"
    try:
        text = await cipher.open(row.owner_id, TABLE, column, row.event_id, row.sealed)
    except DecryptionError:
        return "a sealed personal value does not decrypt (moved or changed)"
    if text is None:
        if row.owner_id not in logged.erased:
            return "a data key was destroyed without a logged erasure"
        counts.erased += 1
        return None
    if reveal(text)[0] != commitment:
        return "a personal value does not match its commitment (changed)"
    counts.sealed_values += 1
    return None
