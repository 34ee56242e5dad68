"""Coded reasons for change: why submitted data was corrected, a visit moved or a status
changed. The code is not personal and goes to monitors and into every export; any free text
beside it stays sealed and site-only."""

from __future__ import annotations

import dataclasses
from enum import StrEnum

from domain.audit import Change
from domain.errors import Invalid


class ReasonCode(StrEnum):
    TRANSCRIPTION_ERROR = "TRANSCRIPTION_ERROR"
    PARTICIPANT_CLARIFICATION = "PARTICIPANT_CLARIFICATION"
    DEVICE_ERROR = "DEVICE_ERROR"
    OTHER = "OTHER"


DEFAULT_REASON_CODES: tuple[ReasonCode, ...] = tuple(ReasonCode)


def reason_code(value: str | ReasonCode | None, allowed: tuple[ReasonCode, ...]) -> ReasonCode:
    """The code given, if the study allows it; a clear error otherwise."""
    if value is None:
        raise Invalid("reason_code", "Give a reason code.")
    try:
        code = ReasonCode(value)
    except ValueError as error:
        raise Invalid("reason_code", f"Use one of {', '.join(allowed)}.") from error
    if code not in allowed:
        raise Invalid("reason_code", f"Use one of {', '.join(allowed)}.")
    return code


def given_or_other(
    value: str | ReasonCode | None, allowed: tuple[ReasonCode, ...] = DEFAULT_REASON_CODES
) -> ReasonCode:
    """The code of a change whose free-text reason is required as before: a client from
    before reason codes sends only the text, and its change counts as OTHER."""
    return ReasonCode.OTHER if value is None else reason_code(value, allowed)


def coded(change: Change, code: ReasonCode) -> Change:
    """The change with its reason code: the log keeps it readable beside the reason's free
    text (which stays sealed); monitors and every export see the code."""
    return dataclasses.replace(change, reason_code=code.value)
