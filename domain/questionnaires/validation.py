"""Publishing a questionnaire: every check a draft must pass to become a version."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from decimal import Context, Decimal, InvalidOperation, localcontext
from types import MappingProxyType
from typing import TypeAlias

from domain import values
from domain.errors import Invalid
from domain.questionnaires.definition import (
    DEFAULT_FREE_TEXT_LENGTH,
    MAX_FREE_TEXT_LENGTH,
    VAS_RANGE,
    VAS_UNIT,
    Choice,
    Item,
    ItemType,
    Number,
    QuestionnaireDraft,
    QuestionnaireVersion,
    Texts,
    content_hash,
)

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
