"""Who calls: the session and what authorises its subject, in one statement on a pooled
connection outside any transaction (one round trip, on every authenticated request)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actors import ActorKind, Grant, Role
from domain.ids import SiteId, StudyId
from domain.sessions import Caller
from domain.users import UserStatus

# The same read as SqlSessionRepository.caller, as plain SQL for asyncpg's statement cache.
_CALLER = """
SELECT s.subject_kind, u.status, g.role, g.study_id, g.site_id,
       p.study_id AS participant_study, p.site_id AS participant_site, p.erased_at
FROM sessions s
LEFT JOIN staff_users u ON s.subject_kind = 'STAFF' AND u.id = s.subject_id
LEFT JOIN staff_grants g ON g.user_id = u.id
LEFT JOIN participants p ON s.subject_kind = 'PARTICIPANT' AND p.id = s.subject_id
WHERE s.id = $1 AND s.subject_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3
"""


class SqlCallers:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def caller(
        self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime
    ) -> Caller | None:
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's; autocommit: no BEGIN, no ROLLBACK
            rows = await driver.fetch(_CALLER, session_id, subject_id, now)
        return caller_of(rows)


def caller_of(rows: list[Any]) -> Caller | None:
    """The caller from the rows of the read (one a staff grant); None without rows."""
    if not rows:
        return None
    first = rows[0]
    kind = ActorKind(first["subject_kind"])
    if kind is ActorKind.STAFF:
        active = first["status"] == UserStatus.ACTIVE.value
        grants = tuple(_grant(r) for r in rows if r["role"] is not None)
        return Caller(kind, grants=grants if active else None)
    if first["participant_study"] is None or first["erased_at"] is not None:
        return Caller(kind)
    return Caller(
        kind, placement=(StudyId(first["participant_study"]), SiteId(first["participant_site"]))
    )


def _grant(row: Any) -> Grant:
    return Grant(
        role=Role(row["role"]),
        study_id=StudyId(row["study_id"]) if row["study_id"] else None,
        site_id=SiteId(row["site_id"]) if row["site_id"] else None,
    )
