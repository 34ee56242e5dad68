"""Sign-in sessions: one refresh-token family per sign-in, rotated on every use.

A refresh token is opaque, stored only as a keyed digest, and good for one use. Using one
that was already used means it was copied: the whole family (session) is revoked, and
whoever holds it has to sign in again.

One exception keeps a participant's app from locking itself out when the answer to a
refresh is lost on the way: the same token again, from the installation the session is
bound to, within REFRESH_RETRY_GRACE of its use, while its successor is still unused, gets
the same new pair again. The pair is not stored to make that possible: the successor is
derived from the presented token with a server key (`TokenService.successor`), and the
access token is issued again from the successor's stored id and issue time, which signs to
the same bytes (Ed25519 is deterministic). Anything else presented twice is reuse.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.actors import ActorKind, Grant
from domain.ids import SiteId, StudyId

STAFF_REFRESH_LIFETIME = timedelta(hours=12)
STAFF_SESSION_LIFETIME = timedelta(days=7)
PARTICIPANT_REFRESH_LIFETIME = timedelta(days=30)
PARTICIPANT_SESSION_LIFETIME = timedelta(days=3650)  # ends by re-pairing, logout or withdrawal
# How long after a rotation the app may ask again with the old token and get the same answer.
REFRESH_RETRY_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class Caller:
    """Whom a live session belongs to, as stored now (read afresh on every request, in one
    go): a staff user's grants (None when the user is missing or disabled), or a
    participant's study and site (None when missing or erased)."""

    kind: ActorKind
    grants: tuple[Grant, ...] | None = None
    placement: tuple[StudyId, SiteId] | None = None


class RevokeReason(StrEnum):
    LOGOUT = "LOGOUT"
    REUSE_DETECTED = "REUSE_DETECTED"
    REPAIRED = "REPAIRED"
    DISABLED = "DISABLED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"  # noqa: S105 - a reason, not a secret
    ERASED = "ERASED"


@dataclass(frozen=True)
class Session:
    id: uuid.UUID
    subject_id: uuid.UUID
    subject_kind: ActorKind
    installation_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def refresh_expiry(self, now: datetime) -> datetime:
        lifetime = (
            PARTICIPANT_REFRESH_LIFETIME
            if self.subject_kind is ActorKind.PARTICIPANT
            else STAFF_REFRESH_LIFETIME
        )
        return min(now + lifetime, self.expires_at)


def session_lifetime(kind: ActorKind) -> timedelta:
    return PARTICIPANT_SESSION_LIFETIME if kind is ActorKind.PARTICIPANT else STAFF_SESSION_LIFETIME


class RefreshState(StrEnum):
    VALID = "VALID"
    USED = "USED"  # presented again after rotation: a copy is in someone else's hands
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@dataclass(frozen=True)
class RefreshRecord:
    """A stored refresh token as found by its digest."""

    token_id: uuid.UUID
    session: Session
    expires_at: datetime
    used_at: datetime | None
    issued_at: datetime

    def state(self, now: datetime) -> RefreshState:
        if self.session.revoked_at is not None:
            return RefreshState.REVOKED
        if self.used_at is not None:
            return RefreshState.USED
        if now >= self.expires_at:
            return RefreshState.EXPIRED
        return RefreshState.VALID

    def may_retry(self, now: datetime, installation_id: uuid.UUID | None) -> bool:
        """A used token presented again may be a retry after a lost answer: only from the
        installation the session is bound to, and only shortly after it was used."""
        bound = self.session.installation_id
        return (
            bound is not None
            and bound == installation_id
            and self.used_at is not None
            and now - self.used_at <= REFRESH_RETRY_GRACE
        )

    def answers_retry_of(self, used: RefreshRecord, now: datetime) -> bool:
        """This token is the successor of `used`, and nobody has used it yet."""
        return self.session.id == used.session.id and self.state(now) is RefreshState.VALID


@dataclass(frozen=True)
class SignIn:
    """What a successful sign-in, refresh or enrolment hands the client."""

    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    session_id: uuid.UUID
    subject_id: uuid.UUID
    installation_id: uuid.UUID | None = None
