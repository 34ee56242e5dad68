"""The study's metadata indexed once for the subjects: ItemDefs as data (where each value
comes from in a record and in the log), questionnaire and reading layouts, units."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from domain.design import VisitDefinition
from domain.questionnaires import VAS_UNIT, Item, ItemType, QuestionnaireVersion
from domain.readings import SPECS, ReadingKind
from domain.studies import Site
from infra.exports.model import (
    Meta,
)
from infra.exports.odm.text import (
    VISIT_DURATION_UNIT,
    Convert,
    as_date,
    as_datetime,
    as_decimal,
    as_integer,
    as_text,
    as_time,
    choice_flag,
    esc,
)

# -- metadata ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One ItemDef as data: where its value comes from in a record and in the event log."""

    oid: str
    field: str  # the Change.field that sets it
    convert: Convert
    anchors: tuple[str, ...] = ()  # fields whose first event created it, if none names it
    always_update: bool = True  # a logged change is an Update even if the value looks equal


@dataclass(frozen=True)
class Component:
    name: str
    value_oid: str
    original_value_oid: str
    original_unit_oid: str


@dataclass(frozen=True)
class KindLayout:
    group_oid: str
    components: tuple[Component, ...]
    unit: str  # the canonical UCUM unit
    unit_ref: str  # its MeasurementUnitRef


def form_oid(version: QuestionnaireVersion) -> str:
    return f"F.{version.code}.V{version.version}"


def group_oid(version: QuestionnaireVersion) -> str:
    return f"IG.{version.code}.V{version.version}"


def item_oid(version: QuestionnaireVersion, item: Item, choice: str | None = None) -> str:
    base = f"I.{version.code}.V{version.version}.{item.code}"
    return base if choice is None else f"{base}.{choice}"


def _unit_oids(units: Iterable[str]) -> dict[str, str]:
    """Readable, unique OIDs for UCUM codes: "/min" -> MU.per_min, "mm[Hg]" -> MU.mmHg."""
    found: dict[str, str] = {}
    for unit in sorted(set(units)):
        stem = "".join(
            c if c.isascii() and c.isalnum() else {"/": "_per_", "%": "pct", ".": "_"}.get(c, "")
            for c in unit
        ).strip("_")
        oid = f"MU.{stem or 'unity'}"
        while oid in found.values():
            oid += "_"
        found[unit] = oid
    return found


def _answer_columns(version: QuestionnaireVersion) -> tuple[Column, ...]:
    """The answer ItemDefs that can hold values (never free text), in item order."""
    columns: list[Column] = []
    for item in version.items:
        answer = f"answers.{item.code}"
        if item.type is ItemType.FREE_TEXT:
            continue
        if item.type is ItemType.MULTIPLE_CHOICE:
            columns.extend(
                Column(item_oid(version, item, c.code), answer, choice_flag(c.code), (), False)
                for c in item.choices
            )
        else:
            columns.append(Column(item_oid(version, item), answer, _ANSWER_CONVERT[item.type]))
    return tuple(columns)


_ANSWER_CONVERT: dict[ItemType, Convert] = {
    ItemType.SINGLE_CHOICE: as_text,
    ItemType.INTEGER: as_integer,
    ItemType.SCALE: as_integer,
    ItemType.DECIMAL: as_decimal,
    ItemType.VAS: as_decimal,
    ItemType.DATE: as_date,
    ItemType.TIME: as_time,
    ItemType.DATETIME: as_datetime,
}
DATA_TYPE: dict[ItemType, str] = {
    ItemType.SINGLE_CHOICE: "text",
    ItemType.INTEGER: "integer",
    ItemType.SCALE: "integer",
    ItemType.DECIMAL: "float",
    ItemType.VAS: "float",
    ItemType.DATE: "date",
    ItemType.TIME: "time",
    ItemType.DATETIME: "datetime",
    ItemType.FREE_TEXT: "text",
}


@dataclass
class Catalog:
    """The study's metadata, indexed once for the subjects."""

    meta: Meta
    study_oid: str
    mdv_oid: str
    sites: dict[uuid.UUID, Site]
    arm_codes: dict[str, str]  # str(arm id) -> arm code
    definitions: dict[uuid.UUID, VisitDefinition]
    versions: dict[tuple[str, int], QuestionnaireVersion]
    answer_columns: dict[tuple[str, int], tuple[Column, ...]]
    units: dict[str, str]  # UCUM code -> MeasurementUnit OID
    kinds: dict[ReadingKind, KindLayout]

    @classmethod
    def of(cls, meta: Meta) -> Catalog:
        versions = {
            (q.definition.code, q.definition.version): q.definition for q in meta.questionnaires
        }
        units = _unit_oids(
            [VISIT_DURATION_UNIT]
            + [spec.canonical_unit for spec in SPECS.values()]
            + [i.unit for v in versions.values() for i in v.items if i.unit]
            + [VAS_UNIT for v in versions.values() for i in v.items if i.type is ItemType.VAS]
        )
        return cls(
            meta=meta,
            study_oid=f"S.{meta.study.code}",
            mdv_oid=f"MDV.{meta.position}",
            sites={site.id: site for site in meta.sites},
            arm_codes={str(arm.id): arm.code for arm in meta.arms},
            definitions={d.id: d for d in meta.visit_definitions},
            versions=dict(sorted(versions.items())),
            answer_columns={key: _answer_columns(v) for key, v in versions.items()},
            units=units,
            kinds={kind: _kind_layout(kind, units) for kind in ReadingKind},
        )

    def site_oid(self, site_id: uuid.UUID) -> str:
        site = self.sites.get(site_id)
        return f"LOC.{esc(site.code)}" if site else f"LOC.{site_id}"

    def unit_ref(self, unit: str | None) -> str:
        oid = self.units.get(unit) if unit else None
        return f'<MeasurementUnitRef MeasurementUnitOID="{esc(oid)}"/>' if oid else ""


def _kind_layout(kind: ReadingKind, units: Mapping[str, str]) -> KindLayout:
    spec = SPECS[kind]
    components = tuple(
        Component(
            c.name,
            f"I.RD.{kind.value}.{c.name.upper()}",
            f"I.RD.{kind.value}.{c.name.upper()}.ORIGINAL_VALUE",
            f"I.RD.{kind.value}.{c.name.upper()}.ORIGINAL_UNIT",
        )
        for c in spec.components
    )
    unit_ref = f'<MeasurementUnitRef MeasurementUnitOID="{esc(units[spec.canonical_unit])}"/>'
    return KindLayout(f"IG.RD.{kind.value}", components, spec.canonical_unit, unit_ref)


def visit_event_oid(definition: VisitDefinition) -> str:
    return f"SE.VISIT.{definition.code}"


def codelist_oid(version: QuestionnaireVersion, item: Item) -> str:
    return f"CL.{version.code}.V{version.version}.{item.code}"
