"""Participant enrolment: single-use codes, exchanged by the app for a device-bound session."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar
from urllib.parse import urlencode

from domain.errors import Invalid
from domain.ids import ParticipantId, new_id

CODE_LIFETIME = timedelta(hours=24)
# Crockford base32 without I, L, O, U; 20 characters = 100 random bits.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHARACTERS = 20
_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}$")


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_CHARACTERS))
    return "-".join(raw[i : i + 5] for i in range(0, _CODE_CHARACTERS, 5))


def normalise_code(text: str) -> str:
    """What people type: any case, spaces or dashes; O/I/L read as 0/1/1."""
    cleaned = re.sub(r"[\s-]", "", text.upper()).translate(str.maketrans("OIL", "011"))
    if not _CODE.match(cleaned):
        raise Invalid("code", "An enrolment code has 20 letters and digits.")
    return cleaned


def deep_link(code: str) -> str:
    """The link a QR code on the enrolment letter carries; the app opens it."""
    return "hearth://enrol?" + urlencode({"code": code})


@dataclass(frozen=True)
class IssuedCode:
    code: str  # shown once; only its digest is stored
    expires_at: datetime
    deep_link: str


@dataclass(frozen=True)
class EnrolmentCode:
    id: uuid.UUID
    participant_id: ParticipantId
    expires_at: datetime
    used_at: datetime | None = None


class Platform(StrEnum):
    IOS = "IOS"
    ANDROID = "ANDROID"
    WEB = "WEB"


@dataclass(frozen=True)
class AppInstallation:
    """The participant's paired phone (the app installation), not a medical device."""

    ENTITY: ClassVar[str] = "AppInstallation"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    participant_id: ParticipantId
    platform: Platform
    model: str
    os_version: str
    app_version: str
    paired_at: datetime

    @classmethod
    def pair(
        cls,
        *,
        participant_id: ParticipantId,
        platform: Platform,
        model: str,
        os_version: str,
        app_version: str,
        now: datetime,
    ) -> AppInstallation:
        return cls(
            id=new_id(),
            participant_id=participant_id,
            platform=platform,
            model=_short(model, "model"),
            os_version=_short(os_version, "os_version"),
            app_version=_short(app_version, "app_version"),
            paired_at=now,
        )


def _short(value: str, field: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > 64 or not cleaned.isprintable():
        raise Invalid(field, "Use 1-64 printable characters.")
    return cleaned
