"""ePRO questionnaires: publishing rules, content hashes and validation of answers."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import DomainError, ErrorCode
from domain.questionnaires import (
    AnswerCode,
    Choice,
    Item,
    ItemType,
    QuestionnaireDraft,
    QuestionnaireVersion,
    content_hash,
    publish,
    to_plain,
    validate_answers,
)


def t(en: str) -> dict[str, str]:
    return {"en": en, "de": f"{en} (de)"}


def items() -> list[Item]:
    return [
        Item(
            "PAIN",
            ItemType.SCALE,
            t("Pain right now?"),
            minimum=0,
            maximum=10,
            anchors={0: t("No pain"), 10: t("Worst pain imaginable")},
            label="Pain now",
        ),
        Item(
            "MOOD",
            ItemType.SINGLE_CHOICE,
            t("Mood today?"),
            choices=(Choice("GOOD", t("Good")), Choice("OK", t("OK")), Choice("BAD", t("Bad"))),
        ),
        Item(
            "SYMPT",
            ItemType.MULTIPLE_CHOICE,
            t("Symptoms?"),
            required=False,
            choices=(
                Choice("HEADACHE", t("Headache")),
                Choice("NAUSEA", t("Nausea")),
                Choice("FATIGUE", t("Fatigue")),
            ),
        ),
        Item(
            "STEPS",
            ItemType.INTEGER,
            t("Steps walked?"),
            required=False,
            minimum=0,
            maximum=100_000,
            unit="{steps}",
        ),
        Item(
            "WEIGHT",
            ItemType.DECIMAL,
            t("Weight?"),
            minimum=Decimal(20),
            maximum=Decimal(300),
            step=Decimal("0.1"),
            unit="kg",
        ),
        Item("VAS", ItemType.VAS, t("Mark your fatigue")),
        Item("ONSETDT", ItemType.DATE, t("When did it start?")),
        Item("BEDTIME", ItemType.TIME, t("When did you go to bed?")),
        Item("TAKENAT", ItemType.DATETIME, t("When did you take the dose?")),
        Item("NOTES", ItemType.FREE_TEXT, t("Anything else?"), required=False, max_length=50),
    ]


def draft(**changes: Any) -> QuestionnaireDraft:
    base = QuestionnaireDraft(
        code="diary1", title=t("Daily diary"), languages=("en", "de"), items=items()
    )
    return dataclasses.replace(base, **changes)


def with_item(index: int, **changes: Any) -> QuestionnaireDraft:
    changed = items()
    changed[index] = dataclasses.replace(changed[index], **changes)
    return draft(items=changed)


def published(**changes: Any) -> QuestionnaireVersion:
    return publish(draft(**changes), 1)


GOOD: dict[str, object] = {
    "PAIN": 7,
    "MOOD": "GOOD",
    "SYMPT": ["NAUSEA", "HEADACHE"],
    "STEPS": 4200,
    "WEIGHT": "72.5",
    "VAS": 33.5,
    "ONSETDT": "2026-03-01",
    "BEDTIME": "22:45",
    "TAKENAT": "2026-03-29T08:15:00+02:00",
    "NOTES": "  slept badly  ",
}


# -- publishing ------------------------------------------------------------------------------


def test_a_valid_draft_publishes_with_defaults_filled_in() -> None:
    version = publish(draft(languages=("en", "de")), 3)
    assert (version.code, version.version, version.languages) == ("DIARY1", 3, ("de", "en"))
    assert [item.code for item in version.items] == [item.code for item in items()]
    pain, vas, notes = version.item("PAIN"), version.item("VAS"), version.item("NOTES")
    assert (pain.minimum, pain.maximum, pain.step) == (0, 10, 1)
    assert (vas.minimum, vas.maximum, vas.unit) == (Decimal(0), Decimal(100), "mm")
    assert notes.max_length == 50
    assert version.item("WEIGHT").step == Decimal("0.1")
    assert len(version.content_hash) == 64
    assert version.hash_matches()


def test_free_text_defaults_to_2000_characters() -> None:
    version = publish(with_item(9, max_length=None), 1)
    assert version.item("NOTES").max_length == 2000


def test_published_content_is_a_copy_of_the_draft() -> None:
    title = t("Daily diary")
    version = publish(draft(title=title), 1)
    title["en"] = "Changed afterwards"
    assert version.title["en"] == "Daily diary"
    assert version.hash_matches()


def test_a_configured_vas_range_is_kept_without_an_implied_unit() -> None:
    version = publish(with_item(5, minimum=0, maximum=Decimal("10.0")), 1)
    vas = version.item("VAS")
    assert (vas.minimum, vas.maximum, vas.unit) == (Decimal(0), Decimal(10), None)


def _choices(*codes: str) -> tuple[Choice, ...]:
    return tuple(Choice(code, t(code)) for code in codes)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        pytest.param(draft(code="no spaces"), "code", id="questionnaire code"),
        pytest.param(draft(languages=()), "languages", id="no languages"),
        pytest.param(draft(languages="en"), "languages", id="languages as one string"),
        pytest.param(draft(languages=("en", "english")), "languages[1]", id="bad language tag"),
        pytest.param(draft(languages=("en", "de", "en")), "languages[2]", id="language twice"),
        pytest.param(draft(title={"en": "Diary"}), "title.de", id="title missing a language"),
        pytest.param(draft(title={**t("D"), "fr": "J"}), "title.fr", id="undeclared language"),
        pytest.param(draft(title={"en": "  ", "de": "T"}), "title.en", id="empty title"),
        pytest.param(draft(title={"en": "a\x00b", "de": "T"}), "title.en", id="NUL in a text"),
        pytest.param(draft(title={"en": "x" * 201, "de": "T"}), "title.en", id="title too long"),
        pytest.param(draft(items=[]), "items", id="no items"),
        pytest.param(with_item(0, code="pain"), "items[0].code", id="lower-case item code"),
        pytest.param(with_item(0, code="PAINSCORE"), "items[0].code", id="item code of 9"),
        pytest.param(with_item(0, code="1PAIN"), "items[0].code", id="item code from a digit"),
        pytest.param(with_item(0, code=""), "items[0].code", id="empty item code"),
        pytest.param(with_item(1, code="PAIN"), "items[1].code", id="duplicate item code"),
        pytest.param(with_item(0, type="SLIDER"), "items[0].type", id="unknown type"),
        pytest.param(with_item(0, texts={"en": "Pain?"}), "items[0].texts.de", id="item text"),
        pytest.param(with_item(0, label="x" * 41), "items[0].label", id="label over 40"),
        pytest.param(with_item(0, label="Schmerz\u00e4"), "items[0].label", id="label not ASCII"),
        pytest.param(with_item(1, choices=()), "items[1].choices", id="choices missing"),
        pytest.param(with_item(1, choices=_choices("A")), "items[1].choices", id="single of 1"),
        pytest.param(
            with_item(1, choices=_choices("A", "B", "A")),
            "items[1].choices[2].code",
            id="duplicate choice code",
        ),
        pytest.param(
            with_item(1, choices=_choices("good", "BAD")),
            "items[1].choices[0].code",
            id="lower-case choice code",
        ),
        pytest.param(
            with_item(1, choices=_choices("A" * 21, "B")),
            "items[1].choices[0].code",
            id="choice code of 21",
        ),
        pytest.param(
            with_item(1, choices=(Choice("A", {"en": "A"}), Choice("B", t("B")))),
            "items[1].choices[0].texts.de",
            id="choice text missing a language",
        ),
        pytest.param(with_item(3, choices=_choices("A")), "items[3].choices", id="choices on int"),
        pytest.param(with_item(6, unit="d"), "items[6].unit", id="unit on a date"),
        pytest.param(with_item(3, max_length=5), "items[3].max_length", id="length on int"),
        pytest.param(with_item(9, minimum=1), "items[9].minimum", id="minimum on free text"),
        pytest.param(
            with_item(3, anchors={0: t("None")}), "items[3].anchors", id="anchors on integer"
        ),
        pytest.param(with_item(3, minimum=10, maximum=10), "items[3].maximum", id="min = max"),
        pytest.param(with_item(4, minimum=Decimal(400)), "items[4].maximum", id="min > max"),
        pytest.param(with_item(3, minimum=True), "items[3].minimum", id="bool minimum"),
        pytest.param(with_item(3, maximum=Decimal(5)), "items[3].maximum", id="int item, Decimal"),
        pytest.param(with_item(4, minimum=20.5), "items[4].minimum", id="float minimum"),
        pytest.param(with_item(4, maximum=Decimal("NaN")), "items[4].maximum", id="NaN maximum"),
        pytest.param(with_item(4, step=Decimal(0)), "items[4].step", id="zero step"),
        pytest.param(with_item(3, step=-5), "items[3].step", id="negative step"),
        pytest.param(with_item(3, unit="k g"), "items[3].unit", id="unit with a space"),
        pytest.param(with_item(0, minimum=None), "items[0].minimum", id="scale without minimum"),
        pytest.param(with_item(0, maximum=None), "items[0].maximum", id="scale without maximum"),
        pytest.param(with_item(0, step=3), "items[0].step", id="scale end off the steps"),
        pytest.param(
            with_item(0, anchors={0: t("None"), 10: t("Worst"), 11: t("Beyond")}),
            "items[0].anchors[11]",
            id="anchor above the range",
        ),
        pytest.param(
            with_item(0, step=2, anchors={0: t("None"), 5: t("Mid"), 10: t("Worst")}),
            "items[0].anchors[5]",
            id="anchor off the steps",
        ),
        pytest.param(
            with_item(0, anchors={0: t("None")}), "items[0].anchors", id="scale end unlabelled"
        ),
        pytest.param(with_item(0, anchors=None), "items[0].anchors", id="scale without anchors"),
        pytest.param(
            with_item(0, anchors={0: {"en": "None"}, 10: t("Worst")}),
            "items[0].anchors[0].de",
            id="anchor text missing a language",
        ),
        pytest.param(with_item(5, maximum=10), "items[5].minimum", id="VAS with half a range"),
        pytest.param(
            with_item(5, anchors={101: t("Beyond")}), "items[5].anchors[101]", id="VAS anchor"
        ),
        pytest.param(with_item(9, max_length=0), "items[9].max_length", id="zero length"),
        pytest.param(with_item(9, max_length=20_001), "items[9].max_length", id="huge length"),
    ],
)
def test_invalid_drafts_are_refused_naming_the_culprit(bad: QuestionnaireDraft, field: str) -> None:
    with pytest.raises(DomainError) as raised:
        publish(bad, 1)
    assert raised.value.code is ErrorCode.VALIDATION_FAILED
    assert raised.value.field == field


@pytest.mark.parametrize("number", [0, -1, True])
def test_version_numbers_start_at_one(number: int) -> None:
    with pytest.raises(DomainError) as raised:
        publish(draft(), number)
    assert raised.value.field == "version"


# -- content hash ----------------------------------------------------------------------------


# The canonical rendering, spelled out: it must never change across runs or Python versions,
# or every stored questionnaire would look changed.
CANONICAL = (
    '{"code":"NRS","items":[{"anchors":[{"texts":{"de":"Kein","en":"None"},"value":0},'
    '{"texts":{"de":"Stärkster","en":"Worst"},"value":10}],"code":"PAIN","maximum":10,'
    '"minimum":0,"required":true,"step":1,"texts":{"de":"Schmerz jetzt?","en":"Pain now?"},'
    '"type":"SCALE"},{"code":"WEIGHT","minimum":"20","required":false,"step":"0.1",'
    '"texts":{"de":"Gewicht?","en":"Weight?"},"type":"DECIMAL","unit":"kg"}],'
    '"languages":["de","en"],"title":{"de":"Schmerz","en":"Pain"}}'
)


def test_the_content_hash_is_sha256_of_the_canonical_json() -> None:
    small = QuestionnaireDraft(
        code="NRS",
        title={"en": "Pain", "de": "Schmerz"},
        languages=("en", "de"),
        items=[
            Item(
                "PAIN",
                ItemType.SCALE,
                {"en": "Pain now?", "de": "Schmerz jetzt?"},
                minimum=0,
                maximum=10,
                anchors={10: {"en": "Worst", "de": "Stärkster"}, 0: {"en": "None", "de": "Kein"}},
            ),
            Item(
                "WEIGHT",
                ItemType.DECIMAL,
                {"en": "Weight?", "de": "Gewicht?"},
                required=False,
                minimum=Decimal("20.0"),
                step=Decimal("0.10"),
                unit="kg",
            ),
        ],
    )
    expected = hashlib.sha256(CANONICAL.encode("utf-8")).hexdigest()
    assert publish(small, 1).content_hash == expected
    assert expected == "83dc6a123c379a06e8b034c677c677c1290460a9c5ce1aa39f3ba043ee74832a"


def _reversed(texts: dict[str, str]) -> dict[str, str]:
    return dict(reversed(list(texts.items())))


def test_key_and_language_order_do_not_change_the_hash() -> None:
    shuffled = [
        dataclasses.replace(
            item,
            texts=_reversed(dict(item.texts)),
            choices=tuple(Choice(c.code, _reversed(dict(c.texts))) for c in item.choices),
            anchors=(
                None
                if item.anchors is None
                else {k: _reversed(dict(v)) for k, v in reversed(list(item.anchors.items()))}
            ),
        )
        for item in items()
    ]
    other = publish(
        draft(title=_reversed(t("Daily diary")), languages=("de", "en"), items=shuffled), 1
    )
    assert other.content_hash == published().content_hash


def test_republishing_the_same_content_keeps_the_hash() -> None:
    first, second = publish(draft(), 1), publish(draft(), 2)
    assert first.content_hash == second.content_hash
    assert first.version != second.version


def test_spelled_out_defaults_and_equal_spellings_hash_the_same() -> None:
    changed = items()
    changed[0] = dataclasses.replace(
        changed[0], step=1, texts={"en": " Pain right now?\r\n", "de": "Pain right now? (de)"}
    )
    changed[4] = dataclasses.replace(changed[4], minimum=20, maximum=Decimal("3.00E+2"))
    changed[5] = dataclasses.replace(changed[5], minimum=0, maximum=Decimal("100.0"), unit="mm")
    explicit = publish(draft(code=" DIARY1 ", items=changed), 1)
    assert explicit.content_hash == published().content_hash


def test_unicode_forms_and_line_ends_do_not_change_the_hash() -> None:
    composed = publish(draft(title={"en": "Caf\u00e9\nA", "de": "Caf\u00e9\nA"}), 1)
    decomposed = publish(draft(title={"en": "Cafe\u0301\r\nA", "de": "Cafe\u0301\rA"}), 1)
    assert composed.content_hash == decomposed.content_hash
    assert decomposed.title["en"] == "Caf\u00e9\nA"


def _swap_items() -> QuestionnaireDraft:
    reordered = items()
    reordered[0], reordered[1] = reordered[1], reordered[0]
    return draft(items=reordered)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(draft(code="DIARY2"), id="code"),
        pytest.param(draft(title={"en": "Daily diary", "de": "Tagebuch"}), id="title"),
        pytest.param(with_item(0, texts=t("Pain now?")), id="item text"),
        pytest.param(with_item(0, maximum=20, anchors={0: t("None"), 20: t("Worst")}), id="max"),
        pytest.param(with_item(0, minimum=1, anchors={1: t("None"), 10: t("Worst")}), id="min"),
        pytest.param(with_item(0, anchors={0: t("None"), 10: t("Worst")}), id="anchor text"),
        pytest.param(with_item(0, label="Pain"), id="label"),
        pytest.param(with_item(0, required=False), id="required"),
        pytest.param(with_item(1, choices=_choices("GOOD", "OK", "BAD")), id="choice text"),
        pytest.param(with_item(1, choices=tuple(reversed(items()[1].choices))), id="choice order"),
        pytest.param(with_item(4, step=Decimal("0.5")), id="step"),
        pytest.param(with_item(4, unit="[lb_av]"), id="unit"),
        pytest.param(with_item(5, minimum=0, maximum=10), id="VAS range"),
        pytest.param(with_item(9, max_length=51), id="free text length"),
        pytest.param(_swap_items(), id="item order"),
    ],
)
def test_any_content_change_changes_the_hash(changed: QuestionnaireDraft) -> None:
    assert publish(changed, 1).content_hash != published().content_hash


def test_a_tampered_version_no_longer_matches_its_hash() -> None:
    version = published()
    tampered = dataclasses.replace(version, title={"en": "Other", "de": "Andere"})
    assert not tampered.hash_matches()
    assert content_hash(version) == version.content_hash


# -- answers ---------------------------------------------------------------------------------


def test_good_answers_of_every_type_are_normalised() -> None:
    result = validate_answers(published(), GOOD)
    assert result.ok
    assert dict(result.values) == {
        "PAIN": 7,
        "MOOD": "GOOD",
        "SYMPT": ("HEADACHE", "NAUSEA"),
        "STEPS": 4200,
        "WEIGHT": Decimal("72.5"),
        "VAS": Decimal("33.5"),
        "ONSETDT": date(2026, 3, 1),
        "BEDTIME": time(22, 45),
        "TAKENAT": datetime(2026, 3, 29, 8, 15, tzinfo=timezone(timedelta(hours=2))),
        "NOTES": "slept badly",
    }
    assert result.plain() == {
        "PAIN": 7,
        "MOOD": "GOOD",
        "SYMPT": ["HEADACHE", "NAUSEA"],
        "STEPS": 4200,
        "WEIGHT": "72.5",
        "VAS": "33.5",
        "ONSETDT": "2026-03-01",
        "BEDTIME": "22:45:00",
        "TAKENAT": "2026-03-29T08:15:00+02:00",
        "NOTES": "slept badly",
    }


BAD: list[tuple[str, object, AnswerCode]] = [
    ("PAIN", "7", AnswerCode.WRONG_TYPE),
    ("PAIN", True, AnswerCode.WRONG_TYPE),
    ("PAIN", 7.0, AnswerCode.WRONG_TYPE),
    ("PAIN", 11, AnswerCode.OUT_OF_RANGE),
    ("PAIN", -1, AnswerCode.OUT_OF_RANGE),
    ("MOOD", "GREAT", AnswerCode.NOT_A_CHOICE),
    ("MOOD", "good", AnswerCode.NOT_A_CHOICE),
    ("MOOD", ["GOOD"], AnswerCode.WRONG_TYPE),
    ("MOOD", 1, AnswerCode.WRONG_TYPE),
    ("SYMPT", "NAUSEA", AnswerCode.WRONG_TYPE),
    ("SYMPT", ["NAUSEA", 3], AnswerCode.WRONG_TYPE),
    ("SYMPT", ["NAUSEA", "FEVER"], AnswerCode.NOT_A_CHOICE),
    ("SYMPT", ["NAUSEA", "NAUSEA"], AnswerCode.DUPLICATE_CHOICE),
    ("STEPS", 1.5, AnswerCode.WRONG_TYPE),
    ("STEPS", "12", AnswerCode.WRONG_TYPE),
    ("STEPS", False, AnswerCode.WRONG_TYPE),
    ("STEPS", -1, AnswerCode.OUT_OF_RANGE),
    ("STEPS", 100_001, AnswerCode.OUT_OF_RANGE),
    ("STEPS", 2**70, AnswerCode.OUT_OF_RANGE),
    ("WEIGHT", True, AnswerCode.WRONG_TYPE),
    ("WEIGHT", "NaN", AnswerCode.WRONG_TYPE),
    ("WEIGHT", math.nan, AnswerCode.WRONG_TYPE),
    ("WEIGHT", "Infinity", AnswerCode.WRONG_TYPE),
    ("WEIGHT", "-inf", AnswerCode.WRONG_TYPE),
    ("WEIGHT", math.inf, AnswerCode.WRONG_TYPE),
    ("WEIGHT", "1_000", AnswerCode.WRONG_TYPE),
    ("WEIGHT", "72,5", AnswerCode.WRONG_TYPE),
    ("WEIGHT", "", AnswerCode.WRONG_TYPE),
    ("WEIGHT", {"value": 72}, AnswerCode.WRONG_TYPE),
    ("WEIGHT", 19.9, AnswerCode.OUT_OF_RANGE),
    ("WEIGHT", "300.1", AnswerCode.OUT_OF_RANGE),
    ("WEIGHT", "1e40", AnswerCode.OUT_OF_RANGE),
    ("WEIGHT", "7" * 70, AnswerCode.OUT_OF_RANGE),
    ("WEIGHT", "72.55", AnswerCode.NOT_ON_STEP),
    ("VAS", "100.01", AnswerCode.OUT_OF_RANGE),
    ("VAS", -0.5, AnswerCode.OUT_OF_RANGE),
    ("VAS", "a lot", AnswerCode.WRONG_TYPE),
    ("ONSETDT", "2026-02-30", AnswerCode.INVALID_DATE),
    ("ONSETDT", "01.03.2026", AnswerCode.INVALID_DATE),
    ("ONSETDT", "20260301", AnswerCode.INVALID_DATE),
    ("ONSETDT", "2026-03-01T10:00:00Z", AnswerCode.INVALID_DATE),
    ("ONSETDT", 20260301, AnswerCode.WRONG_TYPE),
    ("BEDTIME", "25:00", AnswerCode.INVALID_DATE),
    ("BEDTIME", "22:45+01:00", AnswerCode.INVALID_DATE),
    ("BEDTIME", "10pm", AnswerCode.INVALID_DATE),
    ("BEDTIME", 2245, AnswerCode.WRONG_TYPE),
    ("TAKENAT", "2026-03-29T08:15:00", AnswerCode.MISSING_OFFSET),
    ("TAKENAT", "2026-03-29T08:15", AnswerCode.MISSING_OFFSET),
    ("TAKENAT", "2026-03-29 08:15:00+02:00", AnswerCode.INVALID_DATE),
    ("TAKENAT", "2026-02-30T08:15:00Z", AnswerCode.INVALID_DATE),
    ("TAKENAT", "2026-03-29T08:15:00+25:00", AnswerCode.INVALID_DATE),
    ("TAKENAT", "2026-03-29", AnswerCode.INVALID_DATE),
    ("TAKENAT", 1774764900, AnswerCode.WRONG_TYPE),
    ("NOTES", "x" * 51, AnswerCode.TOO_LONG),
    ("NOTES", 42, AnswerCode.WRONG_TYPE),
    ("NOTES", "a\x00b", AnswerCode.WRONG_TYPE),
    ("NOTES", "\ud800", AnswerCode.WRONG_TYPE),
]


@pytest.mark.parametrize(("item", "raw", "code"), BAD)
def test_each_bad_answer_is_refused_with_its_code(item: str, raw: object, code: AnswerCode) -> None:
    result = validate_answers(published(), GOOD | {item: raw})
    assert [(p.item, p.code) for p in result.problems] == [(item, code)]
    assert item not in result.values
    assert len(result.values) == len(GOOD) - 1  # the other answers still pass


def test_missing_optional_answers_are_fine() -> None:
    optional = {"SYMPT", "STEPS", "NOTES"}
    answers = {code: value for code, value in GOOD.items() if code not in optional}
    result = validate_answers(published(), answers)
    assert result.ok
    assert set(result.values) == set(GOOD) - optional


def test_null_blank_and_empty_optional_answers_count_as_missing() -> None:
    result = validate_answers(published(), GOOD | {"STEPS": None, "NOTES": " \n ", "SYMPT": []})
    assert result.ok
    assert not {"STEPS", "NOTES", "SYMPT"} & set(result.values)


@pytest.mark.parametrize("missing", [{}, {"PAIN": None}])
def test_a_missing_or_null_required_answer_is_reported(missing: dict[str, object]) -> None:
    answers = {code: value for code, value in GOOD.items() if code != "PAIN"} | missing
    result = validate_answers(published(), answers)
    assert [(p.item, p.code) for p in result.problems] == [("PAIN", AnswerCode.REQUIRED)]


def test_blank_text_and_empty_selection_are_missing_when_required() -> None:
    version = publish(
        draft(
            items=[
                dataclasses.replace(item, required=True)
                if item.code in {"NOTES", "SYMPT"}
                else item
                for item in items()
            ]
        ),
        1,
    )
    result = validate_answers(version, GOOD | {"NOTES": "   ", "SYMPT": []})
    assert {(p.item, p.code) for p in result.problems} == {
        ("NOTES", AnswerCode.REQUIRED),
        ("SYMPT", AnswerCode.REQUIRED),
    }


def test_unknown_items_are_reported_after_the_known_ones() -> None:
    result = validate_answers(published(), GOOD | {"ZZZ": 1, "AAA": "x", "PAIN": 99})
    assert [(p.item, p.code) for p in result.problems] == [
        ("PAIN", AnswerCode.OUT_OF_RANGE),
        ("AAA", AnswerCode.UNKNOWN_ITEM),
        ("ZZZ", AnswerCode.UNKNOWN_ITEM),
    ]


def test_an_overlong_unknown_key_is_not_repeated_in_full() -> None:
    result = validate_answers(published(), GOOD | {"K" * 500: 1})
    assert len(result.problems[0].item) == 40


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.1", "0.1"),
        (0.1, "0.1"),
        ("72.50", "72.50"),
        (" 72.5 ", "72.5"),
        (72, "72"),
        (Decimal("72.3"), "72.3"),
        ("7.23e1", "72.3"),
    ],
)
def test_decimals_stay_exact(raw: object, expected: str) -> None:
    version = publish(with_item(4, minimum=None, step=None), 1)
    result = validate_answers(version, GOOD | {"WEIGHT": raw})
    assert result.ok
    value = result.values["WEIGHT"]
    assert isinstance(value, Decimal)
    assert value == Decimal(expected)
    assert to_plain(value) == expected


def test_decimal_steps_are_exact() -> None:
    for good in ("20", "20.1", "72.3", 299.9, "300.0"):
        assert validate_answers(published(), GOOD | {"WEIGHT": good}).ok, good
    problems = validate_answers(published(), GOOD | {"WEIGHT": 72.35}).problems
    assert [p.code for p in problems] == [AnswerCode.NOT_ON_STEP]


@pytest.mark.parametrize(("item", "value"), [("PAIN", 0), ("PAIN", 10), ("VAS", 0), ("VAS", 100)])
def test_scale_and_vas_bounds_are_inclusive(item: str, value: int) -> None:
    assert validate_answers(published(), GOOD | {item: value}).ok
    assert validate_answers(published(), GOOD | {item: str(value)}).ok is (item == "VAS")


def test_scale_steps_are_enforced() -> None:
    version = publish(
        with_item(0, step=2, anchors={0: t("None"), 10: t("Worst")}),
        1,
    )
    assert validate_answers(version, GOOD | {"PAIN": 4}).ok
    problems = validate_answers(version, GOOD | {"PAIN": 5}).problems
    assert [p.code for p in problems] == [AnswerCode.NOT_ON_STEP]


def test_a_configured_vas_range_applies() -> None:
    version = publish(with_item(5, minimum=0, maximum=10, unit="cm"), 1)
    assert validate_answers(version, GOOD | {"VAS": "9.95"}).ok
    problems = validate_answers(version, GOOD | {"VAS": 33.5}).problems
    assert [p.code for p in problems] == [AnswerCode.OUT_OF_RANGE]
    assert problems[0].message == "Must be between 0 and 10 cm."


def test_multiple_choice_is_sorted_and_refuses_duplicates() -> None:
    result = validate_answers(published(), GOOD | {"SYMPT": ["NAUSEA", "FATIGUE", "HEADACHE"]})
    assert result.values["SYMPT"] == ("FATIGUE", "HEADACHE", "NAUSEA")
    duplicated = validate_answers(published(), GOOD | {"SYMPT": ["FATIGUE", "FATIGUE"]})
    assert [p.code for p in duplicated.problems] == [AnswerCode.DUPLICATE_CHOICE]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-29T08:15:00Z", datetime(2026, 3, 29, 8, 15, tzinfo=UTC)),
        (
            "2026-03-29T08:15:30.250-05:00",
            datetime(2026, 3, 29, 8, 15, 30, 250_000, tzinfo=timezone(timedelta(hours=-5))),
        ),
    ],
)
def test_datetimes_keep_the_devices_offset(raw: str, expected: datetime) -> None:
    value = validate_answers(published(), GOOD | {"TAKENAT": raw}).values["TAKENAT"]
    assert value == expected
    assert isinstance(value, datetime)
    assert value.utcoffset() == expected.utcoffset()


def test_a_datetime_without_offset_is_missing_its_offset() -> None:
    result = validate_answers(published(), GOOD | {"TAKENAT": "2026-03-29T08:15:00"})
    assert [p.code for p in result.problems] == [AnswerCode.MISSING_OFFSET]


def test_free_text_is_stripped_limited_and_personal() -> None:
    version = published()
    exact = "y" * 50
    assert validate_answers(version, GOOD | {"NOTES": f"  {exact}\n"}).values["NOTES"] == exact
    problems = validate_answers(version, GOOD | {"NOTES": exact + "y"}).problems
    assert [(p.code, p.message) for p in problems] == [
        (AnswerCode.TOO_LONG, "Use at most 50 characters.")
    ]
    assert version.personal_items() == frozenset({"NOTES"})
    assert version.item("NOTES").is_free_text
    assert not version.item("MOOD").is_free_text


SECRET = "Zyx-SECRET-4711"


@pytest.mark.parametrize(
    ("item", "raw"),
    [
        ("MOOD", SECRET),
        ("SYMPT", [SECRET]),
        ("SYMPT", [SECRET, SECRET]),
        ("STEPS", 987_654_321),
        ("PAIN", 4711),
        ("WEIGHT", "4711.5"),
        ("WEIGHT", SECRET),
        ("WEIGHT", "72.4711"),
        ("VAS", 4711),
        ("ONSETDT", SECRET),
        ("ONSETDT", "4711-02-30"),
        ("BEDTIME", SECRET),
        ("TAKENAT", "4711-07-19T12:34:56"),
        ("TAKENAT", SECRET),
        ("NOTES", f"{SECRET} " * 10),
        (SECRET, SECRET),
    ],
)
def test_problem_messages_never_repeat_the_submitted_value(item: str, raw: object) -> None:
    result = validate_answers(published(), GOOD | {item: raw})
    assert len(result.problems) == 1
    message = result.problems[0].message
    for fragment in (SECRET, "4711", "987654321"):
        assert fragment not in message


# -- helpers for callers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "Daily diary (de)"), ("DE-ch", "Daily diary (de)"), ("fr", "Daily diary")],
)
def test_texts_fall_back_to_the_closest_language(language: str, expected: str) -> None:
    assert published().text_for(language) == expected


def test_texts_of_items_choices_and_anchors() -> None:
    version = published()
    assert version.text_for("de", item="MOOD") == "Mood today? (de)"
    assert version.text_for("en", item="MOOD", choice="BAD") == "Bad"
    assert version.text_for("en", item="PAIN", anchor=10) == "Worst pain imaginable"
    only_german = publish(
        draft(
            languages=("de", "pt-BR"),
            title={"de": "Tagebuch", "pt-BR": "Diário"},
            items=[
                Item(
                    "FEEL",
                    ItemType.FREE_TEXT,
                    {"de": "Wie geht es?", "pt-BR": "Como vai?"},
                )
            ],
        ),
        1,
    )
    assert only_german.text_for("pt") == "Diário"
    assert only_german.text_for("fr", fallback="de") == "Tagebuch"
    assert only_german.text_for("fr") == "Tagebuch"  # no English: the first declared language


@pytest.mark.parametrize(
    ("item", "choice", "anchor"), [("NOPE", None, None), ("MOOD", "NOPE", None), ("PAIN", None, 5)]
)
def test_unknown_items_choices_and_anchors_are_not_found(
    item: str, choice: str | None, anchor: int | None
) -> None:
    with pytest.raises(DomainError) as raised:
        published().text_for("en", item=item, choice=choice, anchor=anchor)
    assert raised.value.code is ErrorCode.NOT_FOUND


def test_to_plain_gives_json_values() -> None:
    assert to_plain(Decimal("1E-7")) == "0.0000001"
    assert to_plain(Decimal("1E+2")) == "100"
    assert to_plain(date(2026, 3, 1)) == "2026-03-01"
    assert to_plain(time(7, 5, 30)) == "07:05:30"
    assert to_plain(datetime(2026, 3, 1, 7, 5, tzinfo=UTC)) == "2026-03-01T07:05:00+00:00"
    assert to_plain(("A", "B")) == ["A", "B"]
    assert to_plain(5) == 5
    assert to_plain("GOOD") == "GOOD"
