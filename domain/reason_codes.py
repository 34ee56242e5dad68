"""Coded reasons for change: why submitted data was corrected, a visit moved or a status
changed. The code is not personal and goes to monitors and into every export; any free text
beside it stays sealed and site-only.

Hearth keeps one catalogue of codes; each study allows a subset of it (its list, set by whoever
designs the study). OTHER is in every list: a client from before reason codes sends only the
free text, and its change counts as OTHER.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from enum import StrEnum

from domain.audit import Change
from domain.errors import DomainError, ErrorCode, Invalid


class ReasonCode(StrEnum):
    """The catalogue: every code any study may allow."""

    TRANSCRIPTION_ERROR = "TRANSCRIPTION_ERROR"
    PARTICIPANT_CLARIFICATION = "PARTICIPANT_CLARIFICATION"
    DEVICE_ERROR = "DEVICE_ERROR"
    DATA_ENTRY_ERROR = "DATA_ENTRY_ERROR"
    PROTOCOL_AMENDMENT = "PROTOCOL_AMENDMENT"
    SITE_REQUEST = "SITE_REQUEST"
    OTHER = "OTHER"


# What a study allows until its list is set (and what every study allowed before lists).
DEFAULT_REASON_CODES: tuple[ReasonCode, ...] = (
    ReasonCode.TRANSCRIPTION_ERROR,
    ReasonCode.PARTICIPANT_CLARIFICATION,
    ReasonCode.DEVICE_ERROR,
    ReasonCode.OTHER,
)


def study_list(codes: Iterable[str | ReasonCode]) -> tuple[ReasonCode, ...]:
    """A study's list, in the catalogue's order: not empty, each code once, OTHER in it."""
    given = list(codes)
    if not given:
        raise DomainError(
            ErrorCode.REASON_CODES_EMPTY,
            "A study allows at least one reason code (and always OTHER).",
            field="reason_codes",
        )
    chosen: list[ReasonCode] = []
    for value in given:
        try:
            code = ReasonCode(value)
        except ValueError as error:
            raise Invalid("reason_codes", f"Use codes of {', '.join(ReasonCode)}.") from error
        if code in chosen:
            raise DomainError(
                ErrorCode.REASON_CODE_REPEATED,
                f"{code.value} is given more than once.",
                field="reason_codes",
            )
        chosen.append(code)
    if ReasonCode.OTHER not in chosen:
        raise DomainError(
            ErrorCode.REASON_CODE_OTHER_REQUIRED,
            "Every study allows OTHER: changes from clients that send only free text count "
            "as OTHER.",
            field="reason_codes",
        )
    return tuple(c for c in ReasonCode if c in chosen)


def reason_code(value: str | ReasonCode | None, allowed: tuple[ReasonCode, ...]) -> ReasonCode:
    """The code given, if the study allows it; a clear error otherwise."""
    if value is None:
        raise Invalid("reason_code", "Give a reason code.")
    try:
        code = ReasonCode(value)
    except ValueError as error:
        raise Invalid("reason_code", f"Use one of {', '.join(allowed)}.") from error
    if code not in allowed:
        raise Invalid("reason_code", f"This study allows {', '.join(allowed)}.")
    return code


def given_or_other(value: str | ReasonCode | None, allowed: tuple[ReasonCode, ...]) -> ReasonCode:
    """The code of a change whose free-text reason is required as before: a client from
    before reason codes sends only the text, and its change counts as OTHER."""
    return ReasonCode.OTHER if value is None else reason_code(value, allowed)


def coded(change: Change, code: ReasonCode) -> Change:
    """The change with its reason code: the log keeps it readable beside the reason's free
    text (which stays sealed); monitors and every export see the code."""
    return dataclasses.replace(change, reason_code=code.value)
