"""Access tokens are judged by the injected clock alone, never by the machine's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.actors import ActorKind
from domain.errors import Unauthenticated
from infra.auth.tokens import VERIFIED_CACHE_SIZE, JwtTokens
from tests.clock import PinnedClock

# Years away from any machine's wall clock, on either side.
PAST = datetime(2001, 2, 3, 4, 5, tzinfo=UTC)
FUTURE = datetime(2091, 2, 3, 4, 5, tzinfo=UTC)


def _tokens(clock: PinnedClock) -> JwtTokens:
    return JwtTokens(Ed25519PrivateKey.generate(), clock, timedelta(minutes=15), b"k" * 32)


@pytest.mark.parametrize("start", [PAST, FUTURE])
def test_a_token_lives_exactly_its_lifetime_on_the_clock(start: datetime) -> None:
    clock = PinnedClock(start)
    tokens = _tokens(clock)
    subject, session = uuid.uuid4(), uuid.uuid4()
    issued = tokens.issue_access(subject=subject, kind=ActorKind.STAFF, session_id=session)
    assert issued.expires_at == start + timedelta(minutes=15)
    clock.advance(minutes=15)
    assert tokens.verify_access(issued.token).subject == subject
    clock.advance(seconds=6)  # past the five seconds of leeway
    with pytest.raises(Unauthenticated):
        tokens.verify_access(issued.token)


def test_a_token_issued_later_than_the_clock_is_refused() -> None:
    clock = PinnedClock(FUTURE)
    tokens = _tokens(clock)
    issued = tokens.issue_access(
        subject=uuid.uuid4(), kind=ActorKind.STAFF, session_id=uuid.uuid4()
    )
    clock.pin(FUTURE - timedelta(minutes=1))
    with pytest.raises(Unauthenticated):
        tokens.verify_access(issued.token)


def test_the_same_issue_time_and_token_id_sign_the_same_access_token() -> None:
    """What lets a retried refresh answer with the very same pair, without storing it."""
    clock = PinnedClock(PAST)
    tokens = _tokens(clock)
    claims = {"subject": uuid.uuid4(), "kind": ActorKind.PARTICIPANT, "session_id": uuid.uuid4()}
    token_id = uuid.uuid4()
    first = tokens.issue_access(**claims, issued_at=PAST, token_id=token_id)  # type: ignore[arg-type]
    clock.advance(minutes=1)
    again = tokens.issue_access(**claims, issued_at=PAST, token_id=token_id)  # type: ignore[arg-type]
    other = tokens.issue_access(**claims, issued_at=PAST, token_id=uuid.uuid4())  # type: ignore[arg-type]
    assert again == first
    assert other.token != first.token


def test_successors_are_keyed_and_stable() -> None:
    tokens = _tokens(PinnedClock(PAST))
    secret = tokens.new_secret()
    successor = tokens.successor(secret)
    assert successor == tokens.successor(secret)
    assert len(successor) == 43  # 256 bits, URL-safe
    assert successor not in (secret, tokens.digest(secret).hex())
    other_key = JwtTokens(Ed25519PrivateKey.generate(), PinnedClock(PAST), timedelta(1), b"j" * 32)
    assert other_key.successor(secret) != successor


def test_a_verified_token_is_remembered_by_its_exact_text_and_the_memory_is_bounded() -> None:
    clock = PinnedClock(PAST)
    tokens = _tokens(clock)
    subject = uuid.uuid4()
    issued = tokens.issue_access(subject=subject, kind=ActorKind.STAFF, session_id=uuid.uuid4())
    assert tokens.verify_access(issued.token).subject == subject
    head, body, signature = issued.token.split(".")
    flipped = "B" if signature[10] == "A" else "A"  # a middle character: six bits of it
    forged = f"{head}.{body}.{signature[:10]}{flipped}{signature[11:]}"
    with pytest.raises(Unauthenticated):
        tokens.verify_access(forged)  # not the remembered text: verified, and refused
    assert tokens.verify_access(issued.token).subject == subject
    for _ in range(VERIFIED_CACHE_SIZE + 10):
        tokens.verify_access(
            tokens.issue_access(
                subject=uuid.uuid4(), kind=ActorKind.STAFF, session_id=uuid.uuid4()
            ).token
        )
    assert len(tokens._verified) == VERIFIED_CACHE_SIZE
    assert tokens.verify_access(issued.token).subject == subject  # verified afresh
