"""Participants' direct identifiers: who they are and how to reach them for remote visits.

Every field is personal: stored sealed with the participant's own key, logged only as
commitments, readable by site staff and the participant, never by sponsors or admins.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from typing import ClassVar

from domain.errors import Invalid
from domain.ids import ParticipantId
from domain.users import normalise_email

_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,32}$")


ContactValue = str | date | None


class Keep(Enum):
    """A field left out of an update: its stored value stays as it is."""

    KEEP = "KEEP"


KEEP = Keep.KEEP


class ContactField(StrEnum):
    FULL_NAME = "full_name"
    EMAIL = "email"
    PHONE = "phone"
    DATE_OF_BIRTH = "date_of_birth"
    ADDRESS = "address"


@dataclass(frozen=True)
class ContactDetails:
    ENTITY: ClassVar[str] = "ParticipantContact"
    PERSONAL: ClassVar[frozenset[str]] = frozenset(f.value for f in ContactField)
    REASON_REQUIRED: ClassVar[bool] = False

    id: ParticipantId  # the participant's id: one set of contact details each
    full_name: str | None = None
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None
    address: str | None = None
    version: int = 0  # 0: never stored

    @classmethod
    def of(
        cls,
        participant_id: ParticipantId,
        *,
        full_name: str | None,
        email: str | None,
        phone: str | None,
        date_of_birth: date | None,
        address: str | None,
        today: date,
    ) -> ContactDetails:
        return cls(
            id=participant_id,
            full_name=_text(full_name, "full_name", 200),
            email=normalise_email(email) if email and email.strip() else None,
            phone=_phone(phone),
            date_of_birth=_birth_date(date_of_birth, today),
            address=_text(address, "address", 500),
        )

    def changed(self, changes: Mapping[ContactField, ContactValue], today: date) -> ContactDetails:
        """These details with the given fields replaced (all validated again); fields not
        named keep their values. A blank or None value empties its field."""
        merged: dict[ContactField, ContactValue] = {
            f: getattr(self, f.value) for f in ContactField
        } | dict(changes)
        details = ContactDetails.of(
            self.id,
            full_name=_as_text(merged[ContactField.FULL_NAME], "full_name"),
            email=_as_text(merged[ContactField.EMAIL], "email"),
            phone=_as_text(merged[ContactField.PHONE], "phone"),
            date_of_birth=_as_date(merged[ContactField.DATE_OF_BIRTH]),
            address=_as_text(merged[ContactField.ADDRESS], "address"),
            today=today,
        )
        return dataclasses.replace(details, version=self.version)

    def emptied_by(self, after: ContactDetails) -> tuple[ContactField, ...]:
        """The fields that hold a value here and none in `after`."""
        return tuple(
            f
            for f in ContactField
            if getattr(self, f.value) is not None and getattr(after, f.value) is None
        )

    def corrected(self, field: ContactField, value: str | None, today: date) -> ContactDetails:
        """The same details with one field replaced (validated again) or cleared."""
        return self.changed({field: value}, today)

    def next_version(self, previous: ContactDetails | None) -> ContactDetails:
        return dataclasses.replace(self, version=(previous.version if previous else 0) + 1)


def _text(value: str | None, field: str, limit: int) -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if len(cleaned) > limit or "\x00" in cleaned:
        raise Invalid(field, f"Use at most {limit} characters.")
    return cleaned


def _phone(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if not _PHONE.match(value.strip()):
        raise Invalid("phone", "Use digits, spaces and an optional leading '+'.")
    return value.strip()


def _as_text(value: ContactValue, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise Invalid(field, "Use text.")


def _as_date(value: ContactValue) -> date | None:
    return value if value is None or isinstance(value, date) else _parse_date(value)


def _parse_date(value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise Invalid("date_of_birth", "Use YYYY-MM-DD.") from error


def _birth_date(value: date | None, today: date) -> date | None:
    if value is not None and (value > today or value.year < 1900):
        raise Invalid("date_of_birth", "Enter a real date of birth.")
    return value
