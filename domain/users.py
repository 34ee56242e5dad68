"""Staff users: identity, password credentials and the grants that scope what they may do.

New passwords follow NIST SP 800-63B: long (12+ characters) rather than complex, and not
common, breached or easy to guess, which a PasswordScreen judges (in production zxcvbn, with
its list of the 30,000 most common passwords from breach corpora), and never built from the
user's own e-mail address or name.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Protocol

from domain import values
from domain.actors import Grant, Role
from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import UserId, new_id

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_FAILED_LOGINS = 5  # consecutive failures before the account locks
LOCKOUT = timedelta(minutes=15)
# Shorter words are too common to refuse: "ada" would refuse "adamant"; "li" most things.
_MIN_WHOLE, _MIN_PIECE = 3, 4
_PIECES = re.compile(r"[^\w]+|_")


class PasswordScreen(Protocol):
    def weakness(self, password: str, hints: Sequence[str]) -> str | None:
        """Why the password is common, breached or easy to guess (with the user's own words
        as `hints`), or None when it is not. The answer never repeats the password."""
        ...


class UserStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


@dataclass(frozen=True)
class StaffUser:
    ENTITY: ClassVar[str] = "StaffUser"
    PERSONAL: ClassVar[frozenset[str]] = frozenset({"email", "name"})
    REASON_REQUIRED: ClassVar[bool] = False

    id: UserId
    email: str
    name: str
    status: UserStatus
    created_at: datetime
    grants: tuple[Grant, ...] = ()
    failed_logins: int = 0
    locked_until: datetime | None = None
    version: int = 1

    @classmethod
    def new(cls, *, email: str, name: str, grants: tuple[Grant, ...], now: datetime) -> StaffUser:
        return cls(
            id=UserId(new_id()),
            email=normalise_email(email),
            name=values.text(name, "name", max_length=120),
            status=UserStatus.ACTIVE,
            created_at=now,
            grants=grants,
        )

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def with_grants(self, grants: tuple[Grant, ...]) -> StaffUser:
        return dataclasses.replace(self, grants=grants, version=self.version + 1)

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def with_status(self, status: UserStatus) -> StaffUser:
        return dataclasses.replace(self, status=status, version=self.version + 1)


def normalise_email(value: str) -> str:
    email = value.strip().casefold()
    if not _EMAIL.match(email):
        raise Invalid("email", "Enter a valid e-mail address.")
    return email


def check_new_password(password: str, *, email: str, name: str, screen: PasswordScreen) -> None:
    """A password being set: long enough, not the user's own name or address, not guessable."""
    check_password_policy(password)
    hints = identity_hints(email, name)
    folded = password.casefold()
    if any(h in folded for h in hints):
        raise _weak("Do not build the password from your name or e-mail address.")
    why = screen.weakness(password, sorted(hints))
    if why is not None:
        raise _weak(f"This password is too easy to guess: {why}")


def identity_hints(email: str, name: str) -> set[str]:
    """The user's own words: the e-mail's local part, the name, and their longer pieces."""
    local = email.strip().casefold().partition("@")[0]
    full = name.casefold()
    wholes = {w for w in (local, "".join(full.split())) if len(w) >= _MIN_WHOLE}
    pieces = {p for p in (*_PIECES.split(local), *_PIECES.split(full)) if len(p) >= _MIN_PIECE}
    return wholes | pieces


def _weak(message: str) -> DomainError:
    return DomainError(ErrorCode.WEAK_PASSWORD, message, field="password")


def check_password_policy(password: str) -> None:
    """Length over complexity rules (NIST SP 800-63B): long passphrases, no forced symbols."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("password", f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid("password", f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if len(set(password)) < 4:
        raise Invalid("password", "Use a less repetitive password.")


def validate_grant(grant: Grant) -> Grant:
    """Site roles need a site, study roles a study; admins are global."""
    if grant.role in (Role.PARTICIPANT, Role.SYSTEM):
        raise Invalid("role", "This role cannot be granted to staff.")
    if grant.role is Role.ADMIN and (grant.study_id or grant.site_id):
        raise Invalid("role", "Administrators are not scoped to a study or site.")
    if grant.role is Role.DATA_MANAGER and (grant.study_id is None or grant.site_id):
        raise Invalid("role", "Data managers are granted a whole study.")
    if grant.role in (Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR) and not grant.site_id:
        raise Invalid("role", "Site roles need a site.")
    return grant
