"""Staff users: identity, password credentials and the grants that scope what they may do."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from domain import values
from domain.actors import Grant, Role
from domain.errors import Invalid
from domain.ids import UserId, new_id

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_FAILED_LOGINS = 5  # consecutive failures before the account locks
LOCKOUT = timedelta(minutes=15)


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
