"""Participants' direct identifiers: who they are and how to reach them for remote visits.

Every field is personal: stored sealed with the participant's own key, logged only as
commitments, readable by site staff and the participant, never by sponsors or admins.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import ClassVar

from domain.errors import Invalid
from domain.ids import ParticipantId
from domain.users import normalise_email

_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,32}$")


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

    def corrected(self, field: ContactField, value: str | None, today: date) -> ContactDetails:
        """The same details with one field replaced (validated again) or cleared."""
        texts: dict[ContactField, str | None] = {
            f: getattr(self, f.value) for f in ContactField if f is not ContactField.DATE_OF_BIRTH
        }
        birth = self.date_of_birth
        if field is ContactField.DATE_OF_BIRTH:
            birth = _parse_date(value)
        else:
            texts[field] = value
        return ContactDetails.of(
            self.id,
            full_name=texts[ContactField.FULL_NAME],
            email=texts[ContactField.EMAIL],
            phone=texts[ContactField.PHONE],
            date_of_birth=birth,
            address=texts[ContactField.ADDRESS],
            today=today,
        )

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
