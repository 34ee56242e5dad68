"""ePRO questionnaires (diaries): versioned, content-hashed item definitions in several languages,
and the validation of a participant's submitted answers against one version."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Context, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, TypeAlias

from domain import values
from domain.errors import Invalid, NotFound


class ItemType(StrEnum):
    SINGLE_CHOICE = "SINGLE_CHOICE"
    MULTIPLE_CHOICE = "MULTIPLE_CHOICE"
    INTEGER = "INTEGER"
    DECIMAL = "DECIMAL"
    SCALE = "SCALE"  # integer steps with labelled ends, e.g. a 0-10 numeric rating scale
    VAS = "VAS"  # visual analogue scale: a decimal position, 0-100 mm unless configured
    DATE = "DATE"
    TIME = "TIME"  # local wall time, no offset
    DATETIME = "DATETIME"  # always with a UTC offset
    FREE_TEXT = "FREE_TEXT"


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


Texts: TypeAlias = Mapping[str, str]  # BCP 47 language tag -> text
Number: TypeAlias = int | Decimal
Answer: TypeAlias = str | int | Decimal | date | time | datetime | tuple[str, ...]
PlainAnswer: TypeAlias = str | int | list[str]

DEFAULT_FREE_TEXT_LENGTH = 2000
MAX_FREE_TEXT_LENGTH = 20_000
VAS_RANGE = (Decimal(0), Decimal(100))
VAS_UNIT = "mm"

# The same tag shape consent documents accept, so a participant's language works for both.
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?")
_ITEM_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,7}")  # an SDTM --TESTCD
_CHOICE_CODE = re.compile(r"[A-Z0-9_]{1,20}")
_LABEL = re.compile(r"[ -~]{1,40}")  # an SDTM label: printable ASCII, at most 40
_UNIT = re.compile(r"[!-~]{1,40}")  # UCUM codes are printable ASCII without spaces
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?")
_DATETIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)

_TITLE_LENGTH = 200
_ITEM_TEXT_LENGTH = 1000
_OPTION_TEXT_LENGTH = 200
_INT64 = (-(2**63), 2**63 - 1)
# Decimals stay small enough that range and step arithmetic in _EXACT never rounds.
_MAX_DIGITS = 30
_MAX_MAGNITUDE = 20
_EXACT = Context(prec=100)
_MAX_NUMBER_TEXT = 64


@dataclass(frozen=True)
class Choice:
    code: str
    texts: Texts


@dataclass(frozen=True)
class Item:
    """One question. Fields that do not apply to its type must stay unset."""

    code: str
    type: ItemType
    texts: Texts
    required: bool = True
    choices: Sequence[Choice] = ()
    minimum: Number | None = None
    maximum: Number | None = None
    step: Number | None = None
    unit: str | None = None  # UCUM, e.g. "kg"
    max_length: int | None = None
    anchors: Mapping[int, Texts] | None = None  # position -> label, for SCALE and VAS
    label: str | None = None  # SDTM --TEST (<= 40); exports fall back to the code

    @property
    def is_free_text(self) -> bool:
        """Free text may hold anything a participant writes, so it is treated as personal."""
        return self.type is ItemType.FREE_TEXT

    @property
    def test_label(self) -> str:
        return self.label or self.code


@dataclass(frozen=True)
class QuestionnaireDraft:
    code: str
    title: Texts
    languages: Sequence[str]
    items: Sequence[Item]


@dataclass(frozen=True)
class QuestionnaireVersion:
    """A published, immutable questionnaire; only `publish` should build new ones."""

    code: str
    version: int
    title: Texts
    languages: tuple[str, ...]
    items: tuple[Item, ...]
    content_hash: str

    def item(self, code: str) -> Item:
        for item in self.items:
            if item.code == code:
                return item
        raise NotFound("Questionnaire item")

    def personal_items(self) -> frozenset[str]:
        """Codes of the items whose answers callers must encrypt."""
        return frozenset(item.code for item in self.items if item.is_free_text)

    def hash_matches(self) -> bool:
        """Whether the stored hash still describes the content (e.g. after loading it)."""
        return content_hash(self) == self.content_hash

    def language_for(self, language: str, fallback: str = "en") -> str:
        """The declared language closest to `language`, else to `fallback`, else the first."""
        for wanted in (language.lower(), fallback.lower()):
            primary = wanted.split("-")[0]
            for candidates in (
                [tag for tag in self.languages if tag.lower() == wanted],
                [tag for tag in self.languages if tag == primary],
                [tag for tag in self.languages if tag.split("-")[0] == primary],
            ):
                if candidates:
                    return candidates[0]
        return self.languages[0]

    def text_for(
        self,
        language: str,
        fallback: str = "en",
        *,
        item: str | None = None,
        choice: str | None = None,
        anchor: int | None = None,
    ) -> str:
        """The title, or an item's, choice's or anchor's text, in the best available language."""
        return self._texts(item, choice, anchor)[self.language_for(language, fallback)]

    def _texts(self, item: str | None, choice: str | None, anchor: int | None) -> Texts:
        if item is None:
            if choice is not None or anchor is not None:
                raise ValueError("a choice or anchor needs its item")
            return self.title
        found = self.item(item)
        if choice is not None:
            for option in found.choices:
                if option.code == choice:
                    return option.texts
            raise NotFound("Questionnaire choice")
        if anchor is not None:
            if found.anchors is None or anchor not in found.anchors:
                raise NotFound("Questionnaire anchor")
            return found.anchors[anchor]
        return found.texts


# -- publishing ------------------------------------------------------------------------------


def publish(draft: QuestionnaireDraft, version: int) -> QuestionnaireVersion:
    """Check every rule, fill defaults and hash the result; raise `Invalid` at the first culprit.

    Defaults are written into the version (VAS 0-100 mm, scale step 1, free text 2000), so a
    draft that spells them out publishes to the same content and hash as one that omits them.
    """
    if isinstance(version, bool) or version < 1:
        raise Invalid("version", "Use a whole number from 1.")
    languages = _languages(draft.languages)
    content = QuestionnaireDraft(
        code=values.code(draft.code, "code"),
        title=_texts(draft.title, languages, "title", _TITLE_LENGTH),
        languages=languages,
        items=_items(draft.items, languages),
    )
    return QuestionnaireVersion(
        code=content.code,
        version=version,
        title=content.title,
        languages=languages,
        items=tuple(content.items),
        content_hash=content_hash(content),
    )


def _languages(tags: Sequence[str]) -> tuple[str, ...]:
    if isinstance(tags, str) or not tags:
        raise Invalid("languages", "Declare at least one language, e.g. ('en',).")
    seen: list[str] = []
    for index, tag in enumerate(tags):
        if not _LANGUAGE.fullmatch(tag):
            raise Invalid(f"languages[{index}]", "Use a language tag such as 'en' or 'pt-BR'.")
        if tag in seen:
            raise Invalid(f"languages[{index}]", "Each language once.")
        seen.append(tag)
    # A set, not a preference order: sorted so that declaration order never changes the hash.
    return tuple(sorted(seen))


def _texts(texts: Texts, languages: tuple[str, ...], field: str, max_length: int) -> Texts:
    """Exactly one clean text per declared language."""
    result: dict[str, str] = {}
    for tag, text in texts.items():
        if tag not in languages:
            raise Invalid(f"{field}.{tag}", "Not a language this questionnaire declares.")
        result[tag] = _text(text, f"{field}.{tag}", max_length)
    for tag in languages:
        if tag not in result:
            raise Invalid(f"{field}.{tag}", "Missing the text in this language.")
    return MappingProxyType(dict(sorted(result.items())))


def _text(value: object, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise Invalid(field, "Must be text.")
    # NFC and "\n" line ends, so that the same visible text always hashes the same.
    lines = value.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", lines.strip())
    if not text:
        raise Invalid(field, "Must not be empty.")
    if len(text) > max_length:
        raise Invalid(field, f"Must be at most {max_length} characters.")
    if any(ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise Invalid(field, "Must not contain control characters other than line breaks.")
    return text


def _items(items: Sequence[Item], languages: tuple[str, ...]) -> tuple[Item, ...]:
    if not items:
        raise Invalid("items", "Add at least one item.")
    checked: list[Item] = []
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        path = f"items[{index}]"
        good = _item(item, languages, path)
        if good.code in first:
            raise Invalid(f"{path}.code", f"Already used by items[{first[good.code]}].")
        first[good.code] = index
        checked.append(good)
    return tuple(checked)


_OPTIONAL = ("choices", "minimum", "maximum", "step", "unit", "max_length", "anchors")
_CHOICES, _NUMERIC = {"choices"}, {"minimum", "maximum", "step", "unit"}
_APPLIES: dict[ItemType, frozenset[str]] = {
    ItemType.SINGLE_CHOICE: frozenset(_CHOICES),
    ItemType.MULTIPLE_CHOICE: frozenset(_CHOICES),
    ItemType.INTEGER: frozenset(_NUMERIC),
    ItemType.DECIMAL: frozenset(_NUMERIC),
    ItemType.SCALE: frozenset({"minimum", "maximum", "step", "anchors"}),
    ItemType.VAS: frozenset({*_NUMERIC, "anchors"}),
    ItemType.DATE: frozenset(),
    ItemType.TIME: frozenset(),
    ItemType.DATETIME: frozenset(),
    ItemType.FREE_TEXT: frozenset({"max_length"}),
}


def _item(item: Item, languages: tuple[str, ...], path: str) -> Item:
    if not isinstance(item.code, str) or not _ITEM_CODE.fullmatch(item.code):
        raise Invalid(f"{path}.code", "Use 1-8 characters A-Z, 0-9 or '_', starting with a letter.")
    try:
        kind = ItemType(item.type)
    except ValueError:
        raise Invalid(f"{path}.type", "Unknown item type.") from None
    for name in _OPTIONAL:
        if _given(getattr(item, name)) and name not in _APPLIES[kind]:
            raise Invalid(f"{path}.{name}", f"Does not apply to {kind.value} items.")
    base = dataclasses.replace(
        item,
        type=kind,
        texts=_texts(item.texts, languages, f"{path}.texts", _ITEM_TEXT_LENGTH),
        required=bool(item.required),
        choices=(),
        anchors=None,
        label=_label(item.label, f"{path}.label"),
    )
    return _SHAPES[kind](item, base, languages, path)


def _given(value: object) -> bool:
    if value is None:
        return False
    return isinstance(value, str | int | Decimal) or bool(value)


def _label(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    label = value.strip()
    if not _LABEL.fullmatch(label):
        raise Invalid(field, "Use 1-40 printable ASCII characters (an SDTM label).")
    return label


# Each shape checks the type-specific fields of `item` and returns `base` completed with them.
_Shape: TypeAlias = Callable[[Item, Item, tuple[str, ...], str], Item]


def _choice_shape(item: Item, base: Item, languages: tuple[str, ...], path: str) -> Item:
    fewest = 2 if base.type is ItemType.SINGLE_CHOICE else 1
    if len(item.choices) < fewest:
        raise Invalid(f"{path}.choices", f"Give at least {fewest} choices.")
    choices: list[Choice] = []
    first: dict[str, int] = {}
    for index, choice in enumerate(item.choices):
        where = f"{path}.choices[{index}]"
        if not isinstance(choice.code, str) or not _CHOICE_CODE.fullmatch(choice.code):
            raise Invalid(f"{where}.code", "Use 1-20 characters A-Z, 0-9 or '_'.")
        if choice.code in first:
            raise Invalid(f"{where}.code", f"Already used by choices[{first[choice.code]}].")
        first[choice.code] = index
        texts = _texts(choice.texts, languages, f"{where}.texts", _OPTION_TEXT_LENGTH)
        choices.append(Choice(choice.code, texts))
    return dataclasses.replace(base, choices=tuple(choices))


def _integer_shape(item: Item, base: Item, languages: tuple[str, ...], path: str) -> Item:
    low, high = _whole(item.minimum, f"{path}.minimum"), _whole(item.maximum, f"{path}.maximum")
    _ordered(low, high, path)
    step = _whole(item.step, f"{path}.step")
    _positive(step, path)
    return dataclasses.replace(
        base, minimum=low, maximum=high, step=step, unit=_unit(item.unit, path)
    )


def _decimal_shape(item: Item, base: Item, languages: tuple[str, ...], path: str) -> Item:
    low, high = _exact(item.minimum, f"{path}.minimum"), _exact(item.maximum, f"{path}.maximum")
    _ordered(low, high, path)
    step = _exact(item.step, f"{path}.step")
    _positive(step, path)
    return dataclasses.replace(
        base, minimum=low, maximum=high, step=step, unit=_unit(item.unit, path)
    )


def _scale_shape(item: Item, base: Item, languages: tuple[str, ...], path: str) -> Item:
    low, high = _whole(item.minimum, f"{path}.minimum"), _whole(item.maximum, f"{path}.maximum")
    if low is None:
        raise Invalid(f"{path}.minimum", "A scale needs a minimum.")
    if high is None:
        raise Invalid(f"{path}.maximum", "A scale needs a maximum.")
    _ordered(low, high, path)
    step = _whole(item.step, f"{path}.step")
    step = 1 if step is None else step
    _positive(step, path)
    if (high - low) % step:
        raise Invalid(f"{path}.step", "The maximum must be reachable from the minimum in steps.")
    anchors = _anchors(item.anchors, languages, path, (low, high), step)
    # An unlabelled end leaves participants guessing what the numbers mean.
    if low not in anchors or high not in anchors:
        raise Invalid(f"{path}.anchors", "Label both ends of the scale.")
    return dataclasses.replace(base, minimum=low, maximum=high, step=step, anchors=anchors or None)


def _vas_shape(item: Item, base: Item, languages: tuple[str, ...], path: str) -> Item:
    low, high = _exact(item.minimum, f"{path}.minimum"), _exact(item.maximum, f"{path}.maximum")
    unit = _unit(item.unit, path)
    if low is None and high is None:
        (low, high), unit = VAS_RANGE, unit or VAS_UNIT
    elif low is None or high is None:
        # Half a configured range next to a 0-100 mm default would be a guess.
        raise Invalid(f"{path}.{'minimum' if low is None else 'maximum'}", "Give both ends.")
    _ordered(low, high, path)
    step = _exact(item.step, f"{path}.step")
    _positive(step, path)
    anchors = _anchors(item.anchors, languages, path, (low, high), step)
    return dataclasses.replace(
        base, minimum=low, maximum=high, step=step, unit=unit, anchors=anchors or None
    )


def _free_text_shape(item: Item, base: Item, languages: tuple[str, ...], path: str) -> Item:
    limit = _whole(item.max_length, f"{path}.max_length")
    limit = DEFAULT_FREE_TEXT_LENGTH if limit is None else limit
    if not 1 <= limit <= MAX_FREE_TEXT_LENGTH:
        raise Invalid(f"{path}.max_length", f"Use 1-{MAX_FREE_TEXT_LENGTH} characters.")
    return dataclasses.replace(base, max_length=limit)


def _plain_shape(item: Item, base: Item, languages: tuple[str, ...], path: str) -> Item:
    return base


_SHAPES: dict[ItemType, _Shape] = {
    ItemType.SINGLE_CHOICE: _choice_shape,
    ItemType.MULTIPLE_CHOICE: _choice_shape,
    ItemType.INTEGER: _integer_shape,
    ItemType.DECIMAL: _decimal_shape,
    ItemType.SCALE: _scale_shape,
    ItemType.VAS: _vas_shape,
    ItemType.DATE: _plain_shape,
    ItemType.TIME: _plain_shape,
    ItemType.DATETIME: _plain_shape,
    ItemType.FREE_TEXT: _free_text_shape,
}


def _whole(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(field, "Use a whole number.")
    if not _INT64[0] <= value <= _INT64[1]:
        raise Invalid(field, "Use a number that fits in 64 bits.")
    return value


def _exact(value: object, field: str) -> Decimal | None:
    """An int or Decimal as a canonical Decimal (no exponent, no trailing zeros)."""
    if value is None:
        return None
    # Floats are refused: 0.1 as a float is not 0.1, and ranges must be exact.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Invalid(field, "Use an int or a Decimal.")
    number = Decimal(value)
    if not _fits(number):
        raise Invalid(field, f"Use a finite number of at most {_MAX_DIGITS} digits.")
    with localcontext(_EXACT):
        reduced = number.normalize()
    return Decimal(0) if reduced.is_zero() else Decimal(format(reduced, "f"))


def _fits(number: Decimal) -> bool:
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    digits = len(number.as_tuple().digits)
    return digits <= _MAX_DIGITS and -_MAX_MAGNITUDE <= number.adjusted() <= _MAX_MAGNITUDE


def _ordered(low: Number | None, high: Number | None, path: str) -> None:
    if low is not None and high is not None and low >= high:
        raise Invalid(f"{path}.maximum", "Must be greater than the minimum.")


def _positive(step: Number | None, path: str) -> None:
    if step is not None and step <= 0:
        raise Invalid(f"{path}.step", "Must be greater than zero.")


def _unit(value: str | None, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _UNIT.fullmatch(value):
        raise Invalid(f"{path}.unit", "Use a UCUM unit code such as 'kg', 'mm' or '{score}'.")
    return value


def _anchors(
    anchors: Mapping[int, Texts] | None,
    languages: tuple[str, ...],
    path: str,
    bounds: tuple[Number, Number],
    step: Number | None,
) -> Mapping[int, Texts]:
    result: dict[int, Texts] = {}
    for position, texts in (anchors or {}).items():
        where = f"{path}.anchors[{position}]"
        if isinstance(position, bool) or not isinstance(position, int):
            raise Invalid(where, "Anchor positions are whole numbers.")
        if not bounds[0] <= position <= bounds[1]:
            raise Invalid(where, "Must lie within the item's range.")
        if step is not None and not _on_step(position, bounds[0], step):
            raise Invalid(where, "Must lie on one of the item's steps.")
        result[position] = _texts(texts, languages, where, _OPTION_TEXT_LENGTH)
    return MappingProxyType(dict(sorted(result.items())))


def _on_step(value: Number, base: Number, step: Number) -> bool:
    try:
        with localcontext(_EXACT):
            return (Decimal(value) - Decimal(base)) % Decimal(step) == 0
    except InvalidOperation:  # cannot happen within the limits _fits enforces; refuse if so
        return False


# -- content hash ----------------------------------------------------------------------------


def content_hash(content: QuestionnaireDraft | QuestionnaireVersion) -> str:
    """SHA-256 hex of the canonical JSON of code, languages, title and items.

    The version number is left out, so identical content republished hashes the same and a
    diary can tell "same questionnaire" from "changed questionnaire". Unset item fields are
    left out too, so adding an optional field later does not change existing hashes. Hash
    published content: a raw draft has not had its defaults filled in.
    """
    document = {
        "code": content.code,
        "languages": sorted(content.languages),
        "title": dict(content.title),
        "items": [_item_document(item) for item in content.items],
    }
    rendered = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(rendered.encode("utf-8")).hexdigest()


def _item_document(item: Item) -> dict[str, object]:
    document: dict[str, object] = {
        "code": item.code,
        "type": str(item.type),
        "texts": dict(item.texts),
        "required": item.required,
        "choices": [{"code": c.code, "texts": dict(c.texts)} for c in item.choices],
        "minimum": _number_document(item.minimum),
        "maximum": _number_document(item.maximum),
        "step": _number_document(item.step),
        "unit": item.unit,
        "max_length": item.max_length,
        "anchors": [
            {"value": position, "texts": dict(texts)}
            for position, texts in sorted((item.anchors or {}).items())
        ],
        "label": item.label,
    }
    return {key: value for key, value in document.items() if value is not None and value != []}


def _number_document(value: Number | None) -> str | int | None:
    return format(value, "f") if isinstance(value, Decimal) else value


# -- answers ---------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class PublishedQuestionnaire:
    """A published version as stored in a study: the audited entity around the definition."""

    ENTITY: ClassVar[str] = "QuestionnaireVersion"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    study_id: uuid.UUID
    definition: QuestionnaireVersion
    published_at: datetime
