"""Answers to a published questionnaire: reading, validating and plain forms."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from domain.questionnaires.definition import (
    DEFAULT_FREE_TEXT_LENGTH,
    Answer,
    Item,
    ItemType,
    Number,
    PlainAnswer,
    QuestionnaireVersion,
)
from domain.questionnaires.validation import (
    _DATE,
    _DATETIME,
    _INT64,
    _MAX_NUMBER_TEXT,
    _NUMBER,
    _TIME,
    _fits,
    _on_step,
)


class AnswerCode(StrEnum):
    """Why one answer was refused; clients may rely on these, so only add."""

    REQUIRED = "REQUIRED"
    UNKNOWN_ITEM = "UNKNOWN_ITEM"
    NOT_A_CHOICE = "NOT_A_CHOICE"
    DUPLICATE_CHOICE = "DUPLICATE_CHOICE"
    WRONG_TYPE = "WRONG_TYPE"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_ON_STEP = "NOT_ON_STEP"
    TOO_LONG = "TOO_LONG"
    INVALID_DATE = "INVALID_DATE"
    MISSING_OFFSET = "MISSING_OFFSET"


@dataclass(frozen=True)
class AnswerProblem:
    """One refused answer. The message names the rule, never the submitted value."""

    item: str
    code: AnswerCode
    message: str


@dataclass(frozen=True)
class ValidatedAnswers:
    """Normalised answers of the items that passed, and a problem for each that did not."""

    values: Mapping[str, Answer]
    problems: tuple[AnswerProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def plain(self) -> dict[str, PlainAnswer]:
        return {code: to_plain(value) for code, value in self.values.items()}


class _Refused(Exception):
    def __init__(self, code: AnswerCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def validate_answers(
    version: QuestionnaireVersion, answers: Mapping[str, object]
) -> ValidatedAnswers:
    """Check raw JSON answers (item code -> value) against one version, item by item.

    Missing or null answers to optional items are left out of the result; a blank free text
    and an empty multiple-choice list count as missing.
    """
    accepted: dict[str, Answer] = {}
    problems: list[AnswerProblem] = []
    for item in version.items:
        raw = answers.get(item.code)
        if _blank(item, raw):
            if item.required:
                problems.append(
                    AnswerProblem(item.code, AnswerCode.REQUIRED, "An answer is required.")
                )
            continue
        try:
            accepted[item.code] = _READERS[item.type](item, raw)
        except _Refused as refused:
            problems.append(AnswerProblem(item.code, refused.code, refused.message))
    known = {item.code for item in version.items}
    problems.extend(
        # Only a bounded prefix of an unknown key is repeated back.
        AnswerProblem(str(code)[:40], AnswerCode.UNKNOWN_ITEM, "No such item in this version.")
        for code in sorted(answers, key=str)
        if code not in known
    )
    return ValidatedAnswers(MappingProxyType(accepted), tuple(problems))


def _blank(item: Item, raw: object) -> bool:
    if raw is None:
        return True
    if item.type is ItemType.FREE_TEXT and isinstance(raw, str):
        return not raw.strip()
    return item.type is ItemType.MULTIPLE_CHOICE and isinstance(raw, list | tuple) and not raw


def _single_choice(item: Item, raw: object) -> str:
    if not isinstance(raw, str):
        raise _Refused(AnswerCode.WRONG_TYPE, "Send one choice code as a string.")
    if raw not in {choice.code for choice in item.choices}:
        raise _Refused(AnswerCode.NOT_A_CHOICE, "Not one of this item's choices.")
    return raw


def _multiple_choice(item: Item, raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or not all(isinstance(code, str) for code in raw):
        raise _Refused(AnswerCode.WRONG_TYPE, "Send a list of choice codes.")
    known = {choice.code for choice in item.choices}
    if any(code not in known for code in raw):
        raise _Refused(
            AnswerCode.NOT_A_CHOICE, "A selected code is not one of this item's choices."
        )
    if len(set(raw)) != len(raw):
        raise _Refused(AnswerCode.DUPLICATE_CHOICE, "A choice is selected more than once.")
    return tuple(sorted(raw))


def _integer(item: Item, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _Refused(AnswerCode.WRONG_TYPE, "Send a whole number.")
    if not _INT64[0] <= raw <= _INT64[1]:
        raise _Refused(AnswerCode.OUT_OF_RANGE, "Too large to store.")
    _check_range(item, raw)
    return raw


def _decimal(item: Item, raw: object) -> Decimal:
    number = _number(raw)
    _check_range(item, number)
    return number


def _number(raw: object) -> Decimal:
    """A JSON number or numeric string as an exact Decimal, as the participant entered it."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise _Refused(AnswerCode.WRONG_TYPE, "Send a number.")
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) > _MAX_NUMBER_TEXT:
            raise _Refused(AnswerCode.OUT_OF_RANGE, "Too long a number to store exactly.")
        # Decimal() would also take "NaN", "Infinity" and "1_000"; a JSON-style number only.
        if not _NUMBER.fullmatch(text):
            raise _Refused(AnswerCode.WRONG_TYPE, "Send a number.")
        number = Decimal(text)
    else:
        # str() of a float is its shortest round-trip form: 0.1 becomes Decimal("0.1").
        number = Decimal(raw) if isinstance(raw, int | Decimal) else Decimal(str(raw))
    if not number.is_finite():
        raise _Refused(AnswerCode.WRONG_TYPE, "Send a finite number.")
    if not _fits(number):
        raise _Refused(AnswerCode.OUT_OF_RANGE, "Too large or too precise to store exactly.")
    return number


def _check_range(item: Item, value: Number) -> None:
    low, high = item.minimum, item.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise _Refused(AnswerCode.OUT_OF_RANGE, _range_message(low, high, item.unit))
    if item.step is not None and not _on_step(value, 0 if low is None else low, item.step):
        start = "" if low is None else f" from {_shown(low)}"
        raise _Refused(AnswerCode.NOT_ON_STEP, f"Use steps of {_shown(item.step)}{start}.")


def _range_message(low: Number | None, high: Number | None, unit: str | None) -> str:
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"Must be between {_shown(low)} and {_shown(high)}{suffix}."
    if low is not None:
        return f"Must be at least {_shown(low)}{suffix}."
    return f"Must be at most {_shown(high)}{suffix}."


def _shown(value: Number | None) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _date(item: Item, raw: object) -> date:
    if not isinstance(raw, str):
        raise _Refused(AnswerCode.WRONG_TYPE, "Send a date as text (YYYY-MM-DD).")
    if not _DATE.fullmatch(raw):
        raise _Refused(AnswerCode.INVALID_DATE, "Use an ISO 8601 date: YYYY-MM-DD.")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _Refused(AnswerCode.INVALID_DATE, "Not a calendar date.") from None


def _time(item: Item, raw: object) -> time:
    if not isinstance(raw, str):
        raise _Refused(AnswerCode.WRONG_TYPE, "Send a time as text (HH:MM or HH:MM:SS).")
    if not _TIME.fullmatch(raw):
        raise _Refused(AnswerCode.INVALID_DATE, "Use a local ISO 8601 time: HH:MM or HH:MM:SS.")
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise _Refused(AnswerCode.INVALID_DATE, "Not a time of day.") from None


def _datetime(item: Item, raw: object) -> datetime:
    if not isinstance(raw, str):
        raise _Refused(AnswerCode.WRONG_TYPE, "Send a date and time as ISO 8601 text.")
    match = _DATETIME.fullmatch(raw)
    if match is None:
        raise _Refused(
            AnswerCode.INVALID_DATE, "Use ISO 8601 with an offset: YYYY-MM-DDTHH:MM:SS+01:00."
        )
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _Refused(AnswerCode.INVALID_DATE, "Not a calendar date and time.") from None
    if match.group(2) is None:
        # Without the device's offset the moment is ambiguous; never guess one.
        raise _Refused(AnswerCode.MISSING_OFFSET, "Add the UTC offset, e.g. +01:00 or Z.")
    return moment  # the participant's own offset is kept, not converted to UTC


def _free_text(item: Item, raw: object) -> str:
    if not isinstance(raw, str):
        raise _Refused(AnswerCode.WRONG_TYPE, "Send text.")
    text = raw.strip()
    if "\x00" in text or any(unicodedata.category(ch) == "Cs" for ch in text):
        raise _Refused(AnswerCode.WRONG_TYPE, "The text contains characters that cannot be stored.")
    limit = item.max_length or DEFAULT_FREE_TEXT_LENGTH
    if len(text) > limit:
        raise _Refused(AnswerCode.TOO_LONG, f"Use at most {limit} characters.")
    return text


_READERS: dict[ItemType, Callable[[Item, object], Answer]] = {
    ItemType.SINGLE_CHOICE: _single_choice,
    ItemType.MULTIPLE_CHOICE: _multiple_choice,
    ItemType.INTEGER: _integer,
    ItemType.DECIMAL: _decimal,
    ItemType.SCALE: _integer,
    ItemType.VAS: _decimal,
    ItemType.DATE: _date,
    ItemType.TIME: _time,
    ItemType.DATETIME: _datetime,
    ItemType.FREE_TEXT: _free_text,
}


def to_plain(value: Answer) -> PlainAnswer:
    """A JSON-able form of a normalised answer: decimals as digit strings, times as ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")  # never an exponent, so "0.0000001" stays readable
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
