"""Repository for sessions and their rotating refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.actors import ActorKind
from domain.clock import Clock
from domain.sessions import Caller, RefreshRecord, RevokeReason, Session
from infra.db.callers import caller_of
from infra.db.tables import (
    ParticipantRow,
    RefreshTokenRow,
    SessionRow,
    StaffGrantRow,
    StaffUserRow,
)

_SESSIONS = SessionRow.__table__  # type: ignore[attr-defined]
_TOKENS = RefreshTokenRow.__table__  # type: ignore[attr-defined]
_USERS = StaffUserRow.__table__  # type: ignore[attr-defined]
_GRANTS = StaffGrantRow.__table__  # type: ignore[attr-defined]
_PARTICIPANTS = ParticipantRow.__table__  # type: ignore[attr-defined]


def _session(row: Any) -> Session:
    return Session(
        id=row.id,
        subject_id=row.subject_id,
        subject_kind=ActorKind(row.subject_kind),
        installation_id=row.installation_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class SqlSessionRepository:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._db = session
        self._clock = clock

    async def add(self, session: Session) -> None:
        await self._db.execute(
            insert(_SESSIONS).values(
                id=session.id,
                subject_id=session.subject_id,
                subject_kind=session.subject_kind.value,
                installation_id=session.installation_id,
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    async def add_refresh(
        self,
        session_id: uuid.UUID,
        digest: bytes,
        expires_at: datetime,
        *,
        token_id: uuid.UUID,
        issued_at: datetime,
    ) -> None:
        await self._db.execute(
            insert(_TOKENS).values(
                id=token_id,
                session_id=session_id,
                digest=digest,
                expires_at=expires_at,
                issued_at=issued_at,
            )
        )

    async def find_refresh(self, digest: bytes) -> RefreshRecord | None:
        query = (
            select(
                _TOKENS.c.id.label("token_id"),
                _TOKENS.c.expires_at.label("token_expires"),
                _TOKENS.c.used_at,
                _TOKENS.c.issued_at.label("token_issued"),
                _SESSIONS,
            )
            .join(_SESSIONS, _SESSIONS.c.id == _TOKENS.c.session_id)
            .where(_TOKENS.c.digest == digest)
        )
        row = (await self._db.execute(query)).first()
        if row is None:
            return None
        return RefreshRecord(
            token_id=row.token_id,
            session=_session(row),
            expires_at=row.token_expires,
            used_at=row.used_at,
            issued_at=row.token_issued,
        )

    async def use_refresh(self, token_id: uuid.UUID, now: datetime) -> bool:
        # One UPDATE guarded by "not used yet": of two concurrent refreshes, exactly one wins.
        result = await self._db.execute(
            update(_TOKENS)
            .where(_TOKENS.c.id == token_id, _TOKENS.c.used_at.is_(None))
            .values(used_at=now)
            .returning(_TOKENS.c.id)
        )
        return result.first() is not None

    async def revoke(self, session_id: uuid.UUID, reason: RevokeReason, now: datetime) -> None:
        await self._db.execute(
            update(_SESSIONS)
            .where(_SESSIONS.c.id == session_id, _SESSIONS.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason.value)
        )

    async def revoke_subject(
        self, subject_id: uuid.UUID, reason: RevokeReason, now: datetime
    ) -> int:
        result = await self._db.execute(
            update(_SESSIONS)
            .where(_SESSIONS.c.subject_id == subject_id, _SESSIONS.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason.value)
            .returning(_SESSIONS.c.id)
        )
        return len(result.all())

    async def caller(
        self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime
    ) -> Caller | None:
        # One statement on every authenticated request: the live session, and its staff
        # user with their grants (one row a grant) or its participant.
        s, u, g, p = _SESSIONS, _USERS, _GRANTS, _PARTICIPANTS
        joined = (
            s.outerjoin(
                u, and_(s.c.subject_kind == ActorKind.STAFF.value, u.c.id == s.c.subject_id)
            )
            .outerjoin(g, g.c.user_id == u.c.id)
            .outerjoin(
                p, and_(s.c.subject_kind == ActorKind.PARTICIPANT.value, p.c.id == s.c.subject_id)
            )
        )
        query = (
            select(
                s.c.subject_kind,
                u.c.status,
                g.c.role,
                g.c.study_id,
                g.c.site_id,
                p.c.study_id.label("participant_study"),
                p.c.site_id.label("participant_site"),
                p.c.erased_at,
            )
            .select_from(joined)
            .where(
                s.c.id == session_id,
                s.c.subject_id == subject_id,
                s.c.revoked_at.is_(None),
                s.c.expires_at > now,
            )
        )
        return caller_of(list((await self._db.execute(query)).mappings().all()))

    async def active(self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime) -> bool:
        query = select(_SESSIONS.c.id).where(
            _SESSIONS.c.id == session_id,
            _SESSIONS.c.subject_id == subject_id,
            _SESSIONS.c.revoked_at.is_(None),
            _SESSIONS.c.expires_at > now,
        )
        return (await self._db.execute(query)).first() is not None
