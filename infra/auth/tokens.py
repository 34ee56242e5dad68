"""Short-lived access tokens: JWTs signed with Ed25519 (PyJWT), keyed for this purpose only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.actors import ActorKind
from domain.auth import IssuedToken, TokenClaims
from domain.clock import Clock
from domain.errors import Unauthenticated

ISSUER = "hearth"
AUDIENCE = "hearth-api"
_ALGORITHM = "EdDSA"
_LEEWAY_SECONDS = 5
VERIFIED_CACHE_SIZE = 4096  # distinct tokens whose signature was checked, most recent kept


class _Verified:
    """A token whose signature and claims were checked, with the times still to check."""

    __slots__ = ("claims", "expires", "issued")

    def __init__(self, claims: TokenClaims, issued: int, expires: int) -> None:
        self.claims, self.issued, self.expires = claims, issued, expires


class JwtTokens:
    def __init__(
        self, key: Ed25519PrivateKey, clock: Clock, lifetime: timedelta, digest_key: bytes
    ) -> None:
        self._key = key
        self._digest_key = digest_key
        self._public = key.public_key()
        self._clock = clock
        self._lifetime = lifetime
        # An app sends the same access token on every request until it expires: its
        # signature is verified once, its times on every use (against the injected clock).
        self._verified: OrderedDict[str, _Verified] = OrderedDict()

    def issue_access(
        self,
        *,
        subject: uuid.UUID,
        kind: ActorKind,
        session_id: uuid.UUID,
        issued_at: datetime | None = None,
        token_id: uuid.UUID | None = None,
    ) -> IssuedToken:
        now = issued_at or self._clock.now()
        expires = now + self._lifetime
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(subject),
            "kind": kind.value,
            "sid": str(session_id),
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": (token_id or uuid.uuid4()).hex,
        }
        return IssuedToken(
            token=jwt.encode(claims, self._key, algorithm=_ALGORITHM), expires_at=expires
        )

    def verify_access(self, token: str) -> TokenClaims:
        verified = self._verified.get(token)
        if verified is None:
            verified = self._verify(token)
            self._verified[token] = verified
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        else:
            self._verified.move_to_end(token)
        now = self._clock.now().timestamp()
        if verified.expires + _LEEWAY_SECONDS < now or verified.issued > now + _LEEWAY_SECONDS:
            raise Unauthenticated
        return verified.claims

    def _verify(self, token: str) -> _Verified:
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=[_ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Times are checked against the injected clock below, not the library's.
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud", "sid"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            found = TokenClaims(
                subject=uuid.UUID(claims["sub"]),
                kind=ActorKind(claims["kind"]),
                session_id=uuid.UUID(claims["sid"]),
            )
            return _Verified(found, int(claims["iat"]), int(claims["exp"]))
        except (jwt.PyJWTError, KeyError, ValueError) as error:
            raise Unauthenticated from error

    def new_secret(self) -> str:
        return secrets.token_urlsafe(32)

    def successor(self, secret: str) -> str:
        # Keyed, so nobody without the server's key can compute a token's successor; the
        # label keeps it apart from the digest of the same token (tokens never hold \x1f).
        mac = hmac.new(self._digest_key, b"successor\x1f" + secret.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")

    def digest(self, secret: str) -> bytes:
        # Keyed, so a copy of the table does not let anyone test guesses offline.
        return hmac.new(self._digest_key, secret.encode(), hashlib.sha256).digest()
