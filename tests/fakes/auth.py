"""In-memory fakes of the auth ports, for fast unit tests of the rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from domain.actors import ActorKind
from domain.auth import IssuedToken, TokenClaims
from tests.fakes.clock import FakeClock


class FakePasswordScreen:
    """Refuses the passwords it is told are common; the real judge is tested on its own."""

    def __init__(self, common: frozenset[str] = frozenset({"password1234", "123456789012"})):
        self.common = common
        self.hints: list[str] = []

    def weakness(self, password: str, hints: Sequence[str]) -> str | None:
        self.hints = list(hints)
        return "This is a very common password." if password in self.common else None


class FakePasswords:
    """Reversible 'hashing' is fine in unit tests: the real argon2 is tested against PostgreSQL."""

    def hash(self, password: str) -> str:
        return f"fake${password}"

    def verify(self, hashed: str, password: str) -> bool:
        return hashed == f"fake${password}"

    def needs_rehash(self, hashed: str) -> bool:
        return False

    def burn(self, password: str) -> None:
        return None


class FakeTokens:
    """Readable tokens: 'KIND:subject:session'; digests are the secret's bytes reversed."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.counter = 0
        self.clock = clock or FakeClock()

    def issue_access(
        self,
        *,
        subject: uuid.UUID,
        kind: ActorKind,
        session_id: uuid.UUID,
        issued_at: datetime | None = None,
        token_id: uuid.UUID | None = None,
    ) -> IssuedToken:
        issued = issued_at or self.clock.now()
        return IssuedToken(f"{kind.value}:{subject}:{session_id}", issued + timedelta(minutes=15))

    def verify_access(self, token: str) -> TokenClaims:
        kind, subject, session = token.split(":")
        return TokenClaims(uuid.UUID(subject), ActorKind(kind), uuid.UUID(session))

    def new_secret(self) -> str:
        self.counter += 1
        return f"secret-{self.counter}-{uuid.uuid4().hex}"

    def successor(self, secret: str) -> str:
        return f"next-{secret}"

    def digest(self, secret: str) -> bytes:
        return secret.encode()[::-1]
