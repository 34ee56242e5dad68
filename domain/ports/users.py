"""Ports for users, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from domain.actors import Grant, Role
from domain.ids import (
    UserId,
)
from domain.pagination import Page, PageRequest
from domain.sessions import Caller, RefreshRecord, RevokeReason, Session
from domain.users import StaffUser


class UserRepository(Protocol):
    async def add(self, user: StaffUser, password_hash: str) -> None: ...
    async def get(self, user_id: UserId) -> StaffUser | None: ...

    async def find_credentials(self, email: str) -> tuple[StaffUser, str] | None:
        """The user with this (normalised) e-mail and their password hash."""
        ...

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None: ...

    async def any_with_role(self, role: Role) -> bool: ...

    async def record_failure(
        self, user_id: UserId, now: datetime, *, threshold: int, lock_for: timedelta
    ) -> datetime | None:
        """Count a failed sign-in atomically; the lock's end if this failure locked the account."""
        ...

    async def clear_failures(self, user_id: UserId) -> None: ...

    async def update(self, user: StaffUser) -> None:
        """Store status and grants of a new version; STALE_VERSION if it moved on."""
        ...

    async def page(self, request: PageRequest) -> Page[StaffUser]: ...

    async def active_grants(self, user_id: UserId) -> tuple[Grant, ...] | None:
        """Grants of an active user, or None if the user is missing or disabled."""
        ...


class CallerLookup(Protocol):
    """Who calls, on every authenticated request: one read, outside any unit of work."""

    async def caller(
        self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime
    ) -> Caller | None:
        """As `SessionRepository.caller`, read as of now (committed changes only)."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...
    async def add_refresh(
        self,
        session_id: uuid.UUID,
        digest: bytes,
        expires_at: datetime,
        *,
        token_id: uuid.UUID,
        issued_at: datetime,
    ) -> None: ...
    async def find_refresh(self, digest: bytes) -> RefreshRecord | None: ...

    async def use_refresh(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Mark a refresh token used; False if it already was (atomic: one caller wins)."""
        ...

    async def revoke(self, session_id: uuid.UUID, reason: RevokeReason, now: datetime) -> None: ...

    async def revoke_subject(
        self, subject_id: uuid.UUID, reason: RevokeReason, now: datetime
    ) -> int:
        """End every live session of a staff user or participant; returns how many."""
        ...

    async def active(self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime) -> bool: ...

    async def caller(
        self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime
    ) -> Caller | None:
        """The subject of a live session (not revoked, not expired, this subject's) with
        what authorises them now, in one read; None if the session is not live."""
        ...
