"""What a questionnaire is: its items, drafts, published versions and their content hash."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, TypeAlias

from domain.errors import NotFound


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


Texts: TypeAlias = Mapping[str, str]  # BCP 47 language tag -> text


Number: TypeAlias = int | Decimal


Answer: TypeAlias = str | int | Decimal | date | time | datetime | tuple[str, ...]


PlainAnswer: TypeAlias = str | int | list[str]


DEFAULT_FREE_TEXT_LENGTH = 2000


MAX_FREE_TEXT_LENGTH = 20_000


VAS_RANGE = (Decimal(0), Decimal(100))


VAS_UNIT = "mm"


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
