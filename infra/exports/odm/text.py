"""ODM text: OIDs of the fixed parts, XML escaping, timestamps, and record and logged values
converted to ODM value text."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from domain.consent import CONSENT_SUPERSEDED
from domain.devices import DeviceCode

FILE_NAME = "odm.xml"
ODM_NAMESPACE = "http://www.cdisc.org/ns/odm/v1.3"
LEGAL_REASON = "21 CFR Part 11"
SOURCE_SYSTEM = "Hearth"
VISIT_DURATION_UNIT = "min"

SE_ENROLMENT = "SE.ENROLMENT"
SE_DIARY = "SE.DIARY"
SE_READINGS = "SE.READINGS"
F_SUBJECT = "F.SUBJECT"
F_CONSENT = "F.CONSENT"
F_VISIT = "F.VISIT"
F_READINGS = "F.READINGS"
IG_SUBJECT = "IG.SUBJECT"
IG_CONSENT = "IG.CONSENT"
IG_VISIT = "IG.VISIT"
IG_ENTRY = "IG.DIARY.ENTRY"
F_SIGNATURE = "F.SIGNATURE"
IG_SIGNATURE = "IG.SIGNATURE"
I_SIG_RECORD_TYPE = "I.SIG.RECORD_TYPE"
I_SIG_RECORD_KEY = "I.SIG.RECORD_KEY"
I_SIG_MEANING = "I.SIG.MEANING"
I_SIG_SIGNED_AT = "I.SIG.SIGNED_AT"
I_SIG_SIGNED_VERSION = "I.SIG.SIGNED_VERSION"
I_SIG_CURRENT_VERSION = "I.SIG.CURRENT_VERSION"
I_SIG_STATE = "I.SIG.STATE"
I_SIG_INVALIDATED_BY = "I.SIG.INVALIDATED_BY"
I_RD_START = "I.RD.START"
I_RD_END = "I.RD.END"
I_RD_SOURCE = "I.RD.SOURCE_ID"
I_RD_DELETED = "I.RD.DELETED"
I_RD_STATUS = "I.RD.STATUS"
I_RD_QUARANTINE = "I.RD.QUARANTINE_CODE"
I_RD_CONSENT = "I.RD.CONSENT_SUPERSEDED"
I_RD_DEVICE_TIME = "I.RD.DEVICE_TIME"
USR_SYSTEM = "USR.SYSTEM"
USR_UNKNOWN = "USR.UNKNOWN"

READING_QUARANTINE_CODES = (DeviceCode.OUTSIDE_ASSIGNMENT.value, CONSENT_SUPERSEDED)
# -- text ------------------------------------------------------------------------------------

# Markup, and what XML 1.0 cannot carry or would normalise away in an attribute.
_SPECIAL = re.compile('[&<>"\x00-\x1f\ud800-\udfff\ufffe\uffff]')
_REPLACEMENTS = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_REPLACEMENTS |= {"\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}


def _replace(match: re.Match[str]) -> str:
    return _REPLACEMENTS.get(match.group(), "\ufffd")


def esc(text: str) -> str:
    """`text` safe in element content and in double-quoted attributes."""
    return _SPECIAL.sub(_replace, text) if _SPECIAL.search(text) else text


def stamp(moment: datetime) -> str:
    """ISO 8601 with a UTC offset; naive server times are UTC."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).isoformat()


def number(value: Decimal | int) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def flag(value: bool) -> str:
    return "true" if value else "false"


def label(code: str) -> str:
    return code.replace("_", " ").capitalize()


# -- value conversion (record values and logged JSON values to ODM text) ----------------------

Convert = Callable[[object], str | None]


def as_text(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return flag(raw)
    if isinstance(raw, StrEnum):
        return raw.value
    return number(raw) if isinstance(raw, Decimal | int) else str(raw)


def as_decimal(raw: object) -> str | None:
    if raw is None or isinstance(raw, bool):
        return as_text(raw)
    try:
        return format(Decimal(str(raw)), "f")
    except InvalidOperation:
        return str(raw)


def as_integer(raw: object) -> str | None:
    if isinstance(raw, int | str) and not isinstance(raw, bool):
        try:
            return str(int(raw))
        except ValueError:
            return str(raw)
    return as_decimal(raw)


def as_bool(raw: object) -> str | None:
    if isinstance(raw, bool):
        return flag(raw)
    return None if raw is None else as_text(raw)


def as_date(raw: object) -> str | None:
    if isinstance(raw, date):
        return raw.isoformat()
    try:
        return None if raw is None else date.fromisoformat(str(raw)).isoformat()
    except ValueError:
        return str(raw)


def as_time(raw: object) -> str | None:
    """xs:time needs seconds: "08:30" becomes "08:30:00"."""
    if raw is None:
        return None
    try:
        return (raw if isinstance(raw, time) else time.fromisoformat(str(raw))).isoformat()
    except ValueError:
        return str(raw)


def as_datetime(raw: object) -> str | None:
    if raw is None:
        return None
    try:
        return stamp(raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw)))
    except ValueError:
        return str(raw)


def choice_flag(choice: str) -> Convert:
    def convert(raw: object) -> str | None:
        return flag(choice in raw) if isinstance(raw, list | tuple) else None

    return convert


# -- metadata XML ------------------------------------------------------------------------------


def translated(texts: Mapping[str, str]) -> str:
    return "".join(
        f'<TranslatedText xml:lang="{esc(lang)}">{esc(text)}</TranslatedText>'
        for lang, text in sorted(texts.items())
    )


def plain_text(text: str, lang: str | None = None) -> str:
    attribute = f' xml:lang="{esc(lang)}"' if lang else ""
    return f"<TranslatedText{attribute}>{esc(text)}</TranslatedText>"


def description(body: str) -> str:
    return f"<Description>{body}</Description>" if body else ""
