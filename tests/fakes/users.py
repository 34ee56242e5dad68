"""In-memory fakes of the users ports, for fast unit tests of the rules."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta

from domain.actors import ActorKind, Grant, Role
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.ids import (
    ParticipantId,
    UserId,
)
from domain.pagination import Page, PageRequest
from domain.sessions import Caller, RefreshRecord, RevokeReason, Session
from domain.users import StaffUser
from tests.fakes.participants import FakeParticipants
from tests.paging import keyset_window


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[UserId, tuple[StaffUser, str]] = {}

    async def add(self, user: StaffUser, password_hash: str) -> None:
        if any(u.email == user.email for u, _ in self.rows.values()):
            raise AlreadyExists("A user with this e-mail", field="email")
        self.rows[user.id] = (user, password_hash)

    async def get(self, user_id: UserId) -> StaffUser | None:
        found = self.rows.get(user_id)
        return found[0] if found else None

    async def find_credentials(self, email: str) -> tuple[StaffUser, str] | None:
        return next((r for r in self.rows.values() if r[0].email == email), None)

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None:
        user, _ = self.rows[user_id]
        self.rows[user_id] = (user, password_hash)

    async def any_with_role(self, role: Role) -> bool:
        return any(g.role is role for u, _ in self.rows.values() for g in u.grants)

    async def active_grants(self, user_id: UserId) -> tuple[Grant, ...] | None:
        user = await self.get(user_id)
        return user.grants if user and user.is_active else None

    async def record_failure(
        self, user_id: UserId, now: datetime, *, threshold: int, lock_for: timedelta
    ) -> datetime | None:
        user, hashed = self.rows[user_id]
        count = user.failed_logins + 1
        locked = now + lock_for if count >= threshold else None
        self.rows[user_id] = (
            dataclasses.replace(
                user, failed_logins=0 if locked else count, locked_until=locked or user.locked_until
            ),
            hashed,
        )
        return locked

    async def clear_failures(self, user_id: UserId) -> None:
        user, hashed = self.rows[user_id]
        self.rows[user_id] = (dataclasses.replace(user, failed_logins=0, locked_until=None), hashed)

    async def update(self, user: StaffUser) -> None:
        current, hashed = self.rows[user.id]
        if current.version != user.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[user.id] = (user, hashed)

    async def page(self, request: PageRequest) -> Page[StaffUser]:
        users = (u for u, _ in self.rows.values())
        return keyset_window(users, lambda u: (u.id,), [uuid.UUID], request)


class FakeSessions:
    def __init__(
        self, users: FakeUsers | None = None, participants: FakeParticipants | None = None
    ) -> None:
        self.rows: dict[uuid.UUID, Session] = {}
        self.tokens: dict[bytes, RefreshRecord] = {}
        self.users = users or FakeUsers()
        self.participants = participants or FakeParticipants()

    async def add(self, session: Session) -> None:
        self.rows[session.id] = session

    async def add_refresh(
        self,
        session_id: uuid.UUID,
        digest: bytes,
        expires_at: datetime,
        *,
        token_id: uuid.UUID,
        issued_at: datetime,
    ) -> None:
        self.tokens[digest] = RefreshRecord(
            token_id, self.rows[session_id], expires_at, None, issued_at
        )

    async def find_refresh(self, digest: bytes) -> RefreshRecord | None:
        found = self.tokens.get(digest)
        if found is None:
            return None
        return dataclasses.replace(found, session=self.rows[found.session.id])

    async def use_refresh(self, token_id: uuid.UUID, now: datetime) -> bool:
        for digest, record in self.tokens.items():
            if record.token_id == token_id:
                if record.used_at is not None:
                    return False
                self.tokens[digest] = dataclasses.replace(record, used_at=now)
                return True
        return False

    async def revoke(self, session_id: uuid.UUID, reason: RevokeReason, now: datetime) -> None:
        session = self.rows[session_id]
        if session.revoked_at is None:
            self.rows[session_id] = dataclasses.replace(session, revoked_at=now)

    async def revoke_subject(
        self, subject_id: uuid.UUID, reason: RevokeReason, now: datetime
    ) -> int:
        live = [
            s for s in self.rows.values() if s.subject_id == subject_id and s.revoked_at is None
        ]
        for session in live:
            await self.revoke(session.id, reason, now)
        return len(live)

    async def caller(
        self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime
    ) -> Caller | None:
        if not await self.active(session_id, subject_id, now):
            return None
        kind = self.rows[session_id].subject_kind
        if kind is ActorKind.STAFF:
            return Caller(kind, grants=await self.users.active_grants(UserId(subject_id)))
        found = self.participants.rows.get(ParticipantId(subject_id))
        if found is None or found.erased_at is not None:
            return Caller(kind)
        return Caller(kind, placement=(found.study_id, found.site_id))

    async def active(self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime) -> bool:
        session = self.rows.get(session_id)
        return bool(
            session
            and session.subject_id == subject_id
            and session.revoked_at is None
            and now < session.expires_at
        )
