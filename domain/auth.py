"""Authentication ports: password hashing and signed access tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.actors import ActorKind


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenClaims:
    subject: uuid.UUID
    kind: ActorKind
    session_id: uuid.UUID


class TokenService(Protocol):
    def issue_access(
        self,
        *,
        subject: uuid.UUID,
        kind: ActorKind,
        session_id: uuid.UUID,
        issued_at: datetime | None = None,
        token_id: uuid.UUID | None = None,
    ) -> IssuedToken:
        """A signed access token. Given the same `issued_at` and `token_id` (the refresh token
        it was issued with) it is the same token again: a retried refresh gets the same pair."""
        ...

    def verify_access(self, token: str) -> TokenClaims:
        """The claims of a valid, unexpired token; raises Unauthenticated otherwise."""
        ...

    def new_secret(self) -> str:
        """A fresh opaque secret (refresh token): 256 random bits, URL-safe."""
        ...

    def successor(self, secret: str) -> str:
        """The refresh token that replaces `secret` on rotation: derived from it with a server
        key, so it is unguessable without the key yet the same on every retry."""
        ...

    def digest(self, secret: str) -> bytes:
        """The keyed digest under which a secret (refresh token, enrolment code) is stored."""
        ...


@dataclass(frozen=True)
class Attempt:
    """`amount` attempts counted against `key` in `bucket`: at most `limit` per window."""

    bucket: str
    key: str
    limit: int
    per_seconds: int
    amount: int = 1


class RateLimiter(Protocol):
    async def hit(
        self, bucket: str, key: str, *, limit: int, per_seconds: int, amount: int = 1
    ) -> int | None:
        """Count `amount` attempts; None if allowed, else the seconds to wait before retrying."""
        ...

    async def hit_all(self, attempts: Sequence[Attempt]) -> int | None:
        """Count several attempts at once (every one is counted, allowed or not); None if all
        are allowed, else the longest wait among those over their limit."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, hashed: str, password: str) -> bool: ...
    def needs_rehash(self, hashed: str) -> bool: ...

    def burn(self, password: str) -> None:
        """Spend the time of one verification, so unknown accounts answer as slowly as known."""
        ...
