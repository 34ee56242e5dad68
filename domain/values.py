"""Validation of the small values every entity uses: codes, names, time zones."""

from __future__ import annotations

import re
import zoneinfo

from domain.errors import Invalid

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def code(value: str, field: str) -> str:
    """An upper-case identifier such as a study or site code (max 32 characters)."""
    text = value.strip().upper()
    if not _CODE.match(text):
        raise Invalid(
            field, "Use 1-32 letters, digits, '-' or '_', starting with a letter or digit."
        )
    return text


def text(value: str, field: str, *, max_length: int = 200) -> str:
    """A required single-line text."""
    cleaned = " ".join(value.split())
    if "\x00" in cleaned:
        raise Invalid(field, "Must not contain NUL characters.")
    if not cleaned:
        raise Invalid(field, "Must not be empty.")
    if len(cleaned) > max_length:
        raise Invalid(field, f"Must be at most {max_length} characters.")
    return cleaned


def country(value: str, field: str) -> str:
    """An ISO 3166-1 alpha-2 country code."""
    cleaned = value.strip().upper()
    if not _COUNTRY.match(cleaned):
        raise Invalid(field, "Use an ISO 3166-1 alpha-2 country code, e.g. 'DE'.")
    return cleaned


def timezone(value: str, field: str) -> str:
    """An IANA time zone name, e.g. 'Europe/Berlin'."""
    cleaned = value.strip()
    if cleaned not in _known_zones():
        raise Invalid(field, "Use an IANA time zone name, e.g. 'Europe/Berlin'.")
    return cleaned


_ZONES: set[str] = set()


def _known_zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(zoneinfo.available_timezones())
    return _ZONES
