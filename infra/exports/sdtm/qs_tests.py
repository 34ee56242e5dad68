"""QSTESTCD and QSTEST per (questionnaire code, item code): short, unique, stable codes.

Pairs are taken in order of their first publication (publication time, questionnaire code,
version, item position); each takes the item code itself when it is a valid, still unused
test code, else the first unused code of the form STEM + HASH, where STEM is the item code's
first 4 characters (non [A-Z0-9_] replaced by "_", "Q" prepended if it would start with a
digit) and HASH the base32 SHA-256 of "questionnaire, item, n" for n = 0, 1, ... Codes are
therefore deterministic, unique within QS, and stable over time: a later publication never
changes a code given earlier. FREE_TEXT items get no code. QSTEST is the question as asked
in the study language (English when the questionnaire has it, else its first language) in
the latest version that has the item, cut to 40 characters; define.xml gives it whole.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.questionnaires import Item, PublishedQuestionnaire
from infra.exports.sdtm.variables import MAX_LABEL, TESTCD_PATTERN


@dataclass(frozen=True)
class QsTest:
    testcd: str
    test: str  # the question, at most 40 characters
    questionnaire: str
    item: Item  # as defined in the latest version that has it
    versions: tuple[int, ...]
    question: str  # the whole question in the study language


def study_language(languages: Iterable[str]) -> str:
    tags = list(languages)
    return "en" if "en" in tags else tags[0]


def qs_test_codes(
    questionnaires: Sequence[PublishedQuestionnaire],
) -> dict[tuple[str, str], QsTest]:
    """QSTESTCD and QSTEST per (questionnaire code, item code); see the module doc."""
    first: dict[tuple[str, str], tuple[datetime, str, int, int]] = {}
    latest: dict[tuple[str, str], tuple[int, Item, str]] = {}
    versions: dict[tuple[str, str], set[int]] = {}
    for published in questionnaires:
        definition = published.definition
        language = study_language(definition.languages)
        for position, item in enumerate(definition.items):
            if item.is_free_text:
                continue
            key = (definition.code, item.code)
            order = (published.published_at, definition.code, definition.version, position)
            if key not in first or order < first[key]:
                first[key] = order
            if key not in latest or definition.version > latest[key][0]:
                latest[key] = (definition.version, item, language)
            versions.setdefault(key, set()).add(definition.version)
    taken: set[str] = set()
    found: dict[tuple[str, str], QsTest] = {}
    for key in sorted(first, key=first.__getitem__):
        testcd = next(code for code in _candidates(*key) if code not in taken)
        taken.add(testcd)
        _, item, language = latest[key]
        question = item.texts.get(language) or item.test_label
        found[key] = QsTest(
            testcd, question[:MAX_LABEL], key[0], item, tuple(sorted(versions[key])), question
        )
    return found


def _candidates(questionnaire: str, item: str) -> Iterator[str]:
    if TESTCD_PATTERN.fullmatch(item):
        yield item
    stem = re.sub(r"[^A-Z0-9_]", "_", item.upper())
    if not stem or stem[0].isdigit():
        stem = "Q" + stem
    stem = stem[:4]
    for n in itertools.count():
        digest = hashlib.sha256(f"{questionnaire}\x1f{item}\x1f{n}".encode()).digest()
        yield stem + base64.b32encode(digest).decode("ascii")[: 8 - len(stem)]
