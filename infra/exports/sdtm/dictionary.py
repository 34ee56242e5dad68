"""define.csv (every variable of every dataset) and codes.csv (every code and its decode).

- `define.csv`: DATASET, VARIABLE, LABEL (at most 40 characters), TYPE (Char or Num), ORIGIN
  (Assigned, Collected or Derived), NOTES (how Hearth fills it), in dataset and variable order.
- `codes.csv`: DATASET, VARIABLE, CODE, DECODE, CATEGORY, SOURCE, TYPE, UNIT, VERSIONS,
  VALUES. Rows for DM/ARMCD (arm code -> name), SV/VISITNUM (number -> visit name, SOURCE the
  visit code, VALUES the planned day and window), QS/QSTESTCD (CATEGORY the questionnaire
  code, SOURCE the item code, TYPE the item type, VERSIONS the versions that have the item,
  VALUES the choices or range and anchors, in the study language) and VS/VSTESTCD (SOURCE
  the reading kind and component, VALUES the plausible range).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

from domain.questionnaires import Item
from domain.readings import SPECS
from infra.exports.model import Meta
from infra.exports.sdtm.datasets import ALL
from infra.exports.sdtm.study import StudyContext
from infra.exports.sdtm.terms import vs_unit
from infra.exports.sdtm.vs import VS_TESTS, vs_ranges

DEFINE_HEADER = ("DATASET", "VARIABLE", "LABEL", "TYPE", "ORIGIN", "NOTES")
CODES_HEADER = (
    "DATASET",
    "VARIABLE",
    "CODE",
    "DECODE",
    "CATEGORY",
    "SOURCE",
    "TYPE",
    "UNIT",
    "VERSIONS",
    "VALUES",
)
CodeRow = tuple[str, str, str | int, str, str, str, str, str, str, str]


def define_rows() -> Iterator[Sequence[str]]:
    for dataset in ALL:
        for v in dataset.variables:
            yield (dataset.name, v.name, v.label, v.type, v.origin, v.notes)


def code_rows(meta: Meta, study: StudyContext) -> Iterator[CodeRow]:
    return itertools.chain(
        (("DM", "ARMCD", arm.code, arm.name, "", "", "", "", "", "") for arm in meta.arms),
        _visit_codes(study),
        _qs_codes(study),
        _vs_codes(),
    )


def _visit_codes(study: StudyContext) -> Iterator[CodeRow]:
    for number, definition in study.visits.values():
        window = (
            f"day {definition.day}, window -{definition.window_before}"
            f"/+{definition.window_after} days"
        )
        yield ("SV", "VISITNUM", number, definition.name, "", definition.code, "", "", "", window)


def _qs_codes(study: StudyContext) -> Iterator[CodeRow]:
    for test in study.qs_tests.values():
        item = test.item
        versions = ";".join(str(v) for v in test.versions)
        yield (
            "QS",
            "QSTESTCD",
            test.testcd,
            test.test,
            test.questionnaire,
            item.code,
            item.type.value,
            item.unit or "",
            versions,
            item_values(item),
        )


def _vs_codes() -> Iterator[CodeRow]:
    ranges = vs_ranges()
    for kind, tests in VS_TESTS.items():
        unit = vs_unit(SPECS[kind].canonical_unit)
        for t in tests:
            source = f"{kind.value}.{t.component}"
            yield (
                "VS",
                "VSTESTCD",
                t.testcd,
                t.test,
                "",
                source,
                "Num",
                unit,
                "",
                ranges[t.testcd],
            )


def _english(texts: Mapping[str, str]) -> str:
    for tag, text in texts.items():
        if tag.split("-")[0] == "en":
            return text
    return next(iter(texts.values()), "")


def item_values(item: Item) -> str:
    if item.choices:
        return "; ".join(f"{c.code}={_english(c.texts)}" for c in item.choices)
    parts = []
    if item.minimum is not None or item.maximum is not None:
        low = "" if item.minimum is None else str(item.minimum)
        high = "" if item.maximum is None else str(item.maximum)
        parts.append(f"{low}-{high}")
    if item.anchors:
        anchors = "; ".join(f"{k}={_english(v)}" for k, v in sorted(item.anchors.items()))
        parts.append(f"({anchors})")
    return " ".join(parts)
