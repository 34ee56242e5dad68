"""CDISC ODM 1.3.2 archival export: one `odm.xml` with the study's metadata, its users, sites
and signature meanings, and every subject's data together with its audit trail.

The file is ``FileType="Transactional"``, ``Archival="Yes"``, ``Granularity="All"`` (the ODM
rules for an archival file: transactional, complete, no Upsert). Every value is written as the
transactions that produced it, in event-log order, each ItemData with the AuditRecord of the
event that set it (``SourceID`` = the event id, ``ReasonForChange`` only when the event has a
non-personal reason). Replaying the ItemData of a record in document order (Insert, Update,
Remove) gives its state in the snapshot: a corrected diary answer appears as its Insert (the
submission) followed by an Update (the correction). The record is authoritative for the last
value: the last transaction of an item always carries the record's current value.

Metadata (``Study/MetaDataVersion``, OID ``MDV.<event-log position>``)
- ``SE.ENROLMENT``: ``F.SUBJECT`` (status, arm, enrolment day) and ``F.CONSENT`` (repeating,
  ``FormRepeatKey`` = consent id: version number, language, signed at).
- ``SE.VISIT.<code>`` per visit definition (repeating, ``StudyEventRepeatKey`` = visit id):
  ``F.VISIT`` with contact mode, status, outcome, scheduled start in the participant's local
  time with its UTC offset, duration, out-of-window flag and completion time.
- ``SE.DIARY`` (repeating, ``StudyEventRepeatKey`` = the occurrence key, e.g.
  ``2026-03-02T09:00``): one FormData per entry of ``F.<CODE>.V<n>`` (one FormDef per
  questionnaire version, ``FormRepeatKey`` = entry id) with ``IG.DIARY.ENTRY`` (status,
  quarantine code, timeliness, due, completed and received times, clock skew) and
  ``IG.<CODE>.V<n>`` (answers, items ``I.<CODE>.V<n>.<ITEM>``). Quarantined entries are kept.
- ``SE.READINGS``: ``F.READINGS`` with one ``IG.RD.<KIND>`` per reading
  (``ItemGroupRepeatKey`` = reading id): each component's canonical value (with its UCUM
  MeasurementUnitRef) and original value and unit, effective start (and end for an interval),
  the device's source id, a deleted flag, the status at receipt (accepted or quarantined,
  with why), the consent-superseded flag and the device's clock. Deleted, quarantined and
  rejected readings are kept: a logical delete is an Update of ``I.RD.DELETED`` to true, a
  review an Update of ``I.RD.STATUS``, each with the AuditRecord of its event.

Questionnaire item types: single choice -> text with a CodeList (Decode per language);
multiple choice -> one boolean item per choice (``I.<CODE>.V<n>.<ITEM>.<CHOICE>``, true when
selected, nothing when the item was not answered); integer and scale -> integer, decimal and
VAS -> float, each with Hard RangeChecks and the item's unit; scale/VAS anchors in the
Description; date, time (local wall time, no offset) and datetime (with offset). Free-text
items are described in the metadata but never given values. Questions carry a TranslatedText
per questionnaire language (``xml:lang``).

Audit records: events are matched to values by ``entity_type``/``entity_id`` and
``Change.field`` (``answers.<ITEM>``, ``status``, ``local_start``, ...). A value that no event
names gets the entity's first event (its creation), or the first event naming a related field
(e.g. a visit's completion time: the event that set its outcome). Readings are audited by
their batch: the ``ReadingBatch`` event whose entity is the reading's ``batch_id``; failing
that the latest batch event recorded at or before the reading was received, else the
earliest batch event. Containers (SubjectData, a visit's StudyEventData, an entry's or
consent's FormData) carry the AuditRecord of their entity's first event.

Signatures: the earliest valid signature of a record goes in the record's element
(SubjectData for the participant, a visit's StudyEventData, a diary entry's or consent's
FormData); each further valid one in a repeat of that element (``TransactionType="Update"``,
no data). Invalidated signatures (the record changed after signing) are kept as an
Annotation/Comment on the record. Signatures of records that are not in the export are left
out. SignatureDefs: one per meaning, Methodology Electronic, LegalReason "21 CFR Part 11".

Users and locations: staff are ``USR.<staff uuid>`` with their printed name (the only names in
the file); a participant who acted or signed is ``USR.SUBJECT.<subject id>`` without any name;
``USR.SYSTEM`` and ``USR.UNKNOWN`` (an actor that is neither staff nor the subject) when used.
Sites are Locations ``LOC.<site code>``. Since AdminData precedes ClinicalData but participant
users are only known while streaming, ClinicalData (and the participant users) are streamed
into anonymous temporary files in the export directory and copied into ``odm.xml`` at the end.

``WrittenFile.rows`` counts the ItemGroupData elements (one per reading, two per diary entry,
one per visit, consent and subject); ``progress`` is called with the same counts.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from domain.consent import CONSENT_SUPERSEDED
from domain.design import ContactMode, VisitDefinition
from domain.devices import DeviceCode, ReadingStatus, StoredReading
from domain.diaries import DiaryEntry, EntryCode, EntryStatus
from domain.participants import ParticipantStatus
from domain.questionnaires import VAS_UNIT, Item, ItemType, QuestionnaireVersion
from domain.readings import SPECS, ReadingKind
from domain.schedules import Timeliness
from domain.signatures import MEANING_TEXT, Meaning
from domain.studies import Site
from domain.visits import Visit, VisitOutcome, VisitStatus, wall_to_utc
from infra.exports.model import (
    Event,
    Meta,
    OutputFile,
    Progress,
    RecordSignature,
    SignedConsent,
    Snapshot,
    Subject,
    WrittenFile,
)

FILE_NAME = "odm.xml"
ODM_NAMESPACE = "http://www.cdisc.org/ns/odm/v1.3"
LEGAL_REASON = "21 CFR Part 11"
SOURCE_SYSTEM = "Hearth"
VISIT_DURATION_UNIT = "min"

SE_ENROLMENT = "SE.ENROLMENT"
SE_DIARY = "SE.DIARY"
SE_READINGS = "SE.READINGS"
F_SUBJECT = "F.SUBJECT"
F_CONSENT = "F.CONSENT"
F_VISIT = "F.VISIT"
F_READINGS = "F.READINGS"
IG_SUBJECT = "IG.SUBJECT"
IG_CONSENT = "IG.CONSENT"
IG_VISIT = "IG.VISIT"
IG_ENTRY = "IG.DIARY.ENTRY"
I_RD_START = "I.RD.START"
I_RD_END = "I.RD.END"
I_RD_SOURCE = "I.RD.SOURCE_ID"
I_RD_DELETED = "I.RD.DELETED"
I_RD_STATUS = "I.RD.STATUS"
I_RD_QUARANTINE = "I.RD.QUARANTINE_CODE"
I_RD_CONSENT = "I.RD.CONSENT_SUPERSEDED"
I_RD_DEVICE_TIME = "I.RD.DEVICE_TIME"
USR_SYSTEM = "USR.SYSTEM"
USR_UNKNOWN = "USR.UNKNOWN"

READING_QUARANTINE_CODES = (DeviceCode.OUTSIDE_ASSIGNMENT.value, CONSENT_SUPERSEDED)
_FLUSH_PARTS = 4096  # buffered strings before a write to the temporary file
_COPY_CHUNK = 1 << 20

# -- text ------------------------------------------------------------------------------------

# Markup, and what XML 1.0 cannot carry or would normalise away in an attribute.
_SPECIAL = re.compile('[&<>"\x00-\x1f\ud800-\udfff\ufffe\uffff]')
_REPLACEMENTS = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_REPLACEMENTS |= {"\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}


def _replace(match: re.Match[str]) -> str:
    return _REPLACEMENTS.get(match.group(), "\ufffd")


def _esc(text: str) -> str:
    """`text` safe in element content and in double-quoted attributes."""
    return _SPECIAL.sub(_replace, text) if _SPECIAL.search(text) else text


def _stamp(moment: datetime) -> str:
    """ISO 8601 with a UTC offset; naive server times are UTC."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).isoformat()


def _number(value: Decimal | int) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _label(code: str) -> str:
    return code.replace("_", " ").capitalize()


# -- value conversion (record values and logged JSON values to ODM text) ----------------------

Convert = Callable[[object], str | None]


def _as_text(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return _flag(raw)
    if isinstance(raw, StrEnum):
        return raw.value
    return _number(raw) if isinstance(raw, Decimal | int) else str(raw)


def _as_decimal(raw: object) -> str | None:
    if raw is None or isinstance(raw, bool):
        return _as_text(raw)
    try:
        return format(Decimal(str(raw)), "f")
    except InvalidOperation:
        return str(raw)


def _as_integer(raw: object) -> str | None:
    if isinstance(raw, int | str) and not isinstance(raw, bool):
        try:
            return str(int(raw))
        except ValueError:
            return str(raw)
    return _as_decimal(raw)


def _as_bool(raw: object) -> str | None:
    if isinstance(raw, bool):
        return _flag(raw)
    return None if raw is None else _as_text(raw)


def _as_date(raw: object) -> str | None:
    if isinstance(raw, date):
        return raw.isoformat()
    try:
        return None if raw is None else date.fromisoformat(str(raw)).isoformat()
    except ValueError:
        return str(raw)


def _as_time(raw: object) -> str | None:
    """xs:time needs seconds: "08:30" becomes "08:30:00"."""
    if raw is None:
        return None
    try:
        return (raw if isinstance(raw, time) else time.fromisoformat(str(raw))).isoformat()
    except ValueError:
        return str(raw)


def _as_datetime(raw: object) -> str | None:
    if raw is None:
        return None
    try:
        return _stamp(raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw)))
    except ValueError:
        return str(raw)


def _choice_flag(choice: str) -> Convert:
    def convert(raw: object) -> str | None:
        return _flag(choice in raw) if isinstance(raw, list | tuple) else None

    return convert


# -- metadata ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """One ItemDef as data: where its value comes from in a record and in the event log."""

    oid: str
    field: str  # the Change.field that sets it
    convert: Convert
    anchors: tuple[str, ...] = ()  # fields whose first event created it, if none names it
    always_update: bool = True  # a logged change is an Update even if the value looks equal


@dataclass(frozen=True)
class _Component:
    name: str
    value_oid: str
    original_value_oid: str
    original_unit_oid: str


@dataclass(frozen=True)
class _KindLayout:
    group_oid: str
    components: tuple[_Component, ...]
    unit: str  # the canonical UCUM unit
    unit_ref: str  # its MeasurementUnitRef


def _form_oid(version: QuestionnaireVersion) -> str:
    return f"F.{version.code}.V{version.version}"


def _group_oid(version: QuestionnaireVersion) -> str:
    return f"IG.{version.code}.V{version.version}"


def _item_oid(version: QuestionnaireVersion, item: Item, choice: str | None = None) -> str:
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


def _answer_columns(version: QuestionnaireVersion) -> tuple[_Column, ...]:
    """The answer ItemDefs that can hold values (never free text), in item order."""
    columns: list[_Column] = []
    for item in version.items:
        answer = f"answers.{item.code}"
        if item.type is ItemType.FREE_TEXT:
            continue
        if item.type is ItemType.MULTIPLE_CHOICE:
            columns.extend(
                _Column(_item_oid(version, item, c.code), answer, _choice_flag(c.code), (), False)
                for c in item.choices
            )
        else:
            columns.append(_Column(_item_oid(version, item), answer, _ANSWER_CONVERT[item.type]))
    return tuple(columns)


_ANSWER_CONVERT: dict[ItemType, Convert] = {
    ItemType.SINGLE_CHOICE: _as_text,
    ItemType.INTEGER: _as_integer,
    ItemType.SCALE: _as_integer,
    ItemType.DECIMAL: _as_decimal,
    ItemType.VAS: _as_decimal,
    ItemType.DATE: _as_date,
    ItemType.TIME: _as_time,
    ItemType.DATETIME: _as_datetime,
}
_DATA_TYPE: dict[ItemType, str] = {
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
class _Catalog:
    """The study's metadata, indexed once for the subjects."""

    meta: Meta
    study_oid: str
    mdv_oid: str
    sites: dict[uuid.UUID, Site]
    arm_codes: dict[str, str]  # str(arm id) -> arm code
    definitions: dict[uuid.UUID, VisitDefinition]
    versions: dict[tuple[str, int], QuestionnaireVersion]
    answer_columns: dict[tuple[str, int], tuple[_Column, ...]]
    units: dict[str, str]  # UCUM code -> MeasurementUnit OID
    kinds: dict[ReadingKind, _KindLayout]

    @classmethod
    def of(cls, meta: Meta) -> _Catalog:
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
        return f"LOC.{_esc(site.code)}" if site else f"LOC.{site_id}"

    def unit_ref(self, unit: str | None) -> str:
        oid = self.units.get(unit) if unit else None
        return f'<MeasurementUnitRef MeasurementUnitOID="{_esc(oid)}"/>' if oid else ""


def _kind_layout(kind: ReadingKind, units: Mapping[str, str]) -> _KindLayout:
    spec = SPECS[kind]
    components = tuple(
        _Component(
            c.name,
            f"I.RD.{kind.value}.{c.name.upper()}",
            f"I.RD.{kind.value}.{c.name.upper()}.ORIGINAL_VALUE",
            f"I.RD.{kind.value}.{c.name.upper()}.ORIGINAL_UNIT",
        )
        for c in spec.components
    )
    unit_ref = f'<MeasurementUnitRef MeasurementUnitOID="{_esc(units[spec.canonical_unit])}"/>'
    return _KindLayout(f"IG.RD.{kind.value}", components, spec.canonical_unit, unit_ref)


# -- metadata XML ------------------------------------------------------------------------------


def _translated(texts: Mapping[str, str]) -> str:
    return "".join(
        f'<TranslatedText xml:lang="{_esc(lang)}">{_esc(text)}</TranslatedText>'
        for lang, text in sorted(texts.items())
    )


def _plain_text(text: str, lang: str | None = None) -> str:
    attribute = f' xml:lang="{_esc(lang)}"' if lang else ""
    return f"<TranslatedText{attribute}>{_esc(text)}</TranslatedText>"


def _description(body: str) -> str:
    return f"<Description>{body}</Description>" if body else ""


def _header(meta: Meta) -> str:
    description = (
        f"Hearth archival export of study {meta.study.code} at event-log position "
        f"{meta.position}, chain head {meta.chain_head or '(empty log)'}"
    )
    created = _stamp(meta.created_at)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ODM xmlns="{ODM_NAMESPACE}" Description="{_esc(description)}"'
        ' FileType="Transactional" Granularity="All" Archival="Yes"'
        f' FileOID="EXPORT.{meta.export_id}" CreationDateTime="{created}"'
        f' AsOfDateTime="{created}" ODMVersion="1.3.2"'
        f' Originator="{SOURCE_SYSTEM}" SourceSystem="{SOURCE_SYSTEM}">\n'
    )


def _study(catalog: _Catalog) -> str:
    study = catalog.meta.study
    return (
        f'<Study OID="{_esc(catalog.study_oid)}">\n'
        f"<GlobalVariables><StudyName>{_esc(study.code)}</StudyName>"
        f"<StudyDescription>{_esc(study.title)}</StudyDescription>"
        f"<ProtocolName>{_esc(study.code)}</ProtocolName></GlobalVariables>\n"
        f"<BasicDefinitions>{_measurement_units(catalog)}</BasicDefinitions>\n"
        f'<MetaDataVersion OID="{catalog.mdv_oid}"'
        f' Name="{_esc(study.code)} at event-log position {catalog.meta.position}">\n'
        f"{_protocol(catalog)}{_study_event_defs(catalog)}{_form_defs(catalog)}"
        f"{_item_group_defs(catalog)}{_item_defs(catalog)}{_code_lists(catalog)}"
        "</MetaDataVersion>\n</Study>\n"
    )


def _measurement_units(catalog: _Catalog) -> str:
    return "".join(
        f'<MeasurementUnit OID="{_esc(oid)}" Name="{_esc(unit)}">'
        f"<Symbol>{_plain_text(unit)}</Symbol>"
        f'<Alias Context="UCUM" Name="{_esc(unit)}"/></MeasurementUnit>'
        for unit, oid in catalog.units.items()
    )


def _visit_event_oid(definition: VisitDefinition) -> str:
    return f"SE.VISIT.{definition.code}"


@dataclass(frozen=True)
class _EventDef:
    oid: str
    name: str
    repeating: str
    kind: str
    description: str
    forms: Sequence[str]


def _study_events(catalog: _Catalog) -> list[_EventDef]:
    """Every StudyEventDef, in protocol order."""
    events = [
        _EventDef(SE_ENROLMENT, "Enrolment and consent", "No", "Common", "", [F_SUBJECT, F_CONSENT])
    ]
    events += [
        _EventDef(
            _visit_event_oid(d),
            d.name,
            "Yes",
            "Scheduled",
            f"Day {d.day} after enrolment, window -{d.window_before}/+{d.window_after} days;"
            f" contact modes {', '.join(d.modes)}",
            [F_VISIT],
        )
        for d in catalog.meta.visit_definitions
    ]
    diaries = [_form_oid(v) for v in catalog.versions.values()]
    events.append(_EventDef(SE_DIARY, "Diary", "Yes", "Scheduled", "One per occurrence", diaries))
    events.append(_EventDef(SE_READINGS, "Device readings", "No", "Common", "", [F_READINGS]))
    return events


def _protocol(catalog: _Catalog) -> str:
    refs = "".join(
        f'<StudyEventRef StudyEventOID="{_esc(e.oid)}" OrderNumber="{n}" Mandatory="No"/>'
        for n, e in enumerate(_study_events(catalog), start=1)
    )
    return f"<Protocol>{refs}</Protocol>\n"


def _study_event_defs(catalog: _Catalog) -> str:
    parts = []
    for event in _study_events(catalog):
        refs = "".join(
            f'<FormRef FormOID="{_esc(form)}" OrderNumber="{n}" Mandatory="No"/>'
            for n, form in enumerate(event.forms, start=1)
        )
        description = _plain_text(event.description, "en") if event.description else ""
        parts.append(
            f'<StudyEventDef OID="{_esc(event.oid)}" Name="{_esc(event.name)}"'
            f' Repeating="{event.repeating}" Type="{event.kind}">{_description(description)}'
            f"{refs}</StudyEventDef>\n"
        )
    return "".join(parts)


def _form_def(
    oid: str,
    name: str,
    repeating: str,
    groups: Sequence[str],
    *,
    description: str = "",
    alias: str = "",
) -> str:
    refs = "".join(
        f'<ItemGroupRef ItemGroupOID="{_esc(group)}" OrderNumber="{n}" Mandatory="Yes"/>'
        for n, group in enumerate(groups, start=1)
    )
    return (
        f'<FormDef OID="{_esc(oid)}" Name="{_esc(name)}" Repeating="{repeating}">'
        f"{description}{refs}{alias}</FormDef>\n"
    )


def _form_defs(catalog: _Catalog) -> str:
    parts = [
        _form_def(F_SUBJECT, "Subject", "No", [IG_SUBJECT]),
        _form_def(F_CONSENT, "Consent", "Yes", [IG_CONSENT]),
        _form_def(F_VISIT, "Visit", "No", [IG_VISIT]),
    ]
    for version in catalog.versions.values():
        description = _description(_translated(version.title))
        alias = f'<Alias Context="Hearth content hash" Name="{_esc(version.content_hash)}"/>'
        parts.append(
            _form_def(
                _form_oid(version),
                f"{version.code} v{version.version}",
                "Yes",
                [IG_ENTRY, _group_oid(version)],
                description=description,
                alias=alias,
            )
        )
    kinds = [layout.group_oid for layout in catalog.kinds.values()]
    parts.append(_form_def(F_READINGS, "Device readings", "No", kinds))
    return "".join(parts)


def _item_group_def(oid: str, name: str, repeating: str, items: Sequence[tuple[str, bool]]) -> str:
    refs = "".join(
        f'<ItemRef ItemOID="{_esc(item)}" OrderNumber="{n}"'
        f' Mandatory="{"Yes" if mandatory else "No"}"/>'
        for n, (item, mandatory) in enumerate(items, start=1)
    )
    return (
        f'<ItemGroupDef OID="{_esc(oid)}" Name="{_esc(name)}" Repeating="{repeating}">'
        f"{refs}</ItemGroupDef>\n"
    )


def _item_group_defs(catalog: _Catalog) -> str:
    parts = [
        _item_group_def(IG_SUBJECT, "Subject", "No", [(d.oid, False) for d in _SUBJECT_ITEMS]),
        _item_group_def(IG_CONSENT, "Consent", "No", [(d.oid, True) for d in _CONSENT_ITEMS]),
        _item_group_def(IG_VISIT, "Visit", "No", [(d.oid, False) for d in _VISIT_ITEMS]),
        _item_group_def(IG_ENTRY, "Diary entry", "No", [(d.oid, False) for d in _ENTRY_ITEMS]),
    ]
    for version in catalog.versions.values():
        refs: list[tuple[str, bool]] = []
        for item in version.items:
            if item.type is ItemType.MULTIPLE_CHOICE:
                refs += [(_item_oid(version, item, c.code), item.required) for c in item.choices]
            else:
                refs.append((_item_oid(version, item), item.required))
        name = f"{version.code} v{version.version} answers"
        parts.append(_item_group_def(_group_oid(version), name, "No", refs))
    for kind, layout in catalog.kinds.items():
        refs = [(I_RD_START, True), (I_RD_END, False)]
        for c in layout.components:
            refs += [(c.value_oid, True), (c.original_value_oid, True)]
            refs.append((c.original_unit_oid, False))
        refs += [(I_RD_SOURCE, True), (I_RD_DELETED, True), (I_RD_STATUS, True)]
        refs += [(I_RD_QUARANTINE, False), (I_RD_CONSENT, True), (I_RD_DEVICE_TIME, False)]
        parts.append(_item_group_def(layout.group_oid, _label(kind.value), "Yes", refs))
    return "".join(parts)


@dataclass(frozen=True)
class _Def:
    """A fixed ItemDef (not from a questionnaire)."""

    oid: str
    name: str
    data_type: str
    description: str
    codelist: str | None = None
    unit: str | None = None
    length: int | None = None


_SUBJECT_ITEMS = (
    _Def("I.SUBJECT.STATUS", "STATUS", "text", "Participant status", "CL.SUBJECT_STATUS"),
    _Def("I.SUBJECT.ARM", "ARM", "text", "Arm (randomisation)", "CL.ARM"),
    _Def("I.SUBJECT.ENROLLED_ON", "ENROLLED_ON", "date", "Day 0 of the schedule (local date)"),
)
_CONSENT_ITEMS = (
    _Def("I.CONSENT.VERSION", "VERSION", "integer", "Consent document version number"),
    _Def("I.CONSENT.LANGUAGE", "LANGUAGE", "text", "Language the consent was read in (BCP 47)"),
    _Def("I.CONSENT.SIGNED_AT", "SIGNED_AT", "datetime", "When the participant signed"),
)
_VISIT_ITEMS = (
    _Def("I.VISIT.MODE", "MODE", "text", "Contact mode", "CL.CONTACT_MODE"),
    _Def("I.VISIT.STATUS", "STATUS", "text", "Visit status", "CL.VISIT_STATUS"),
    _Def("I.VISIT.OUTCOME", "OUTCOME", "text", "Visit outcome", "CL.VISIT_OUTCOME"),
    _Def(
        "I.VISIT.SCHEDULED_START",
        "SCHEDULED_START",
        "datetime",
        "Scheduled start: the participant's local wall time with its UTC offset",
    ),
    _Def("I.VISIT.DURATION", "DURATION", "integer", "Planned duration", unit=VISIT_DURATION_UNIT),
    _Def("I.VISIT.OUT_OF_WINDOW", "OUT_OF_WINDOW", "boolean", "Scheduled outside its window"),
    _Def("I.VISIT.COMPLETED_AT", "COMPLETED_AT", "datetime", "When the visit was completed"),
)
_ENTRY_ITEMS = (
    _Def("I.DIARY.STATUS", "STATUS", "text", "Entry status", "CL.ENTRY_STATUS"),
    _Def("I.DIARY.QUARANTINE_CODE", "QUARANTINE", "text", "Why quarantined", "CL.ENTRY_CODE"),
    _Def("I.DIARY.TIMELINESS", "TIMELINESS", "text", "Timeliness", "CL.TIMELINESS"),
    _Def("I.DIARY.DUE_AT", "DUE_AT", "datetime", "When the occurrence was due"),
    _Def("I.DIARY.COMPLETED_AT", "COMPLETED_AT", "datetime", "Completed (device clock)"),
    _Def("I.DIARY.RECEIVED_AT", "RECEIVED_AT", "datetime", "Received by the server"),
    _Def("I.DIARY.CLOCK_SKEWED", "CLOCK_SKEWED", "boolean", "Device clock was off"),
    _Def(
        "I.DIARY.CONSENT_SUPERSEDED",
        "CONSENT_SUPERSEDED",
        "boolean",
        "Completed under a consent version since replaced",
    ),
)
_READING_ITEMS = (
    _Def(I_RD_START, "START", "datetime", "Effective time (start of an interval), device offset"),
    _Def(I_RD_END, "END", "datetime", "End of the effective interval; absent for a point in time"),
    _Def(I_RD_SOURCE, "SOURCE_ID", "text", "The device's own record id", length=200),
    _Def(I_RD_DELETED, "DELETED", "boolean", "Logically deleted (kept for the audit trail)"),
    _Def(I_RD_STATUS, "STATUS", "text", "Accepted, quarantined or rejected", "CL.READING_STATUS"),
    _Def(I_RD_QUARANTINE, "QUARANTINE", "text", "Why quarantined", "CL.READING_CODE"),
    _Def(I_RD_CONSENT, "CONSENT_SUPERSEDED", "boolean", "Taken under a consent since replaced"),
    _Def(I_RD_DEVICE_TIME, "DEVICE_TIME", "datetime", "The device's clock when it sent it"),
)


def _fixed_item_def(d: _Def, units: Mapping[str, str], *, has_arms: bool) -> str:
    length = f' Length="{d.length}"' if d.length else ""
    unit = units.get(d.unit) if d.unit else None
    unit_ref = f'<MeasurementUnitRef MeasurementUnitOID="{_esc(unit)}"/>' if unit else ""
    listed = d.codelist is not None and (has_arms or d.codelist != "CL.ARM")  # no empty lists
    codelist = f'<CodeListRef CodeListOID="{d.codelist}"/>' if listed else ""
    return (
        f'<ItemDef OID="{d.oid}" Name="{d.name}" DataType="{d.data_type}"{length}>'
        f"{_description(_plain_text(d.description, 'en'))}{unit_ref}{codelist}</ItemDef>\n"
    )


def _item_defs(catalog: _Catalog) -> str:
    fixed = (*_SUBJECT_ITEMS, *_CONSENT_ITEMS, *_VISIT_ITEMS, *_ENTRY_ITEMS, *_READING_ITEMS)
    parts = [_fixed_item_def(d, catalog.units, has_arms=bool(catalog.meta.arms)) for d in fixed]
    for version in catalog.versions.values():
        parts += [_question_item_defs(version, item, catalog.units) for item in version.items]
    for kind, layout in catalog.kinds.items():
        spec = SPECS[kind]
        data_type = "integer" if spec.whole_number else "float"
        digits = "" if spec.whole_number else f' SignificantDigits="{spec.places}"'
        unit = catalog.units[spec.canonical_unit]
        for c in layout.components:
            name = c.name.upper()
            parts.append(
                f'<ItemDef OID="{c.value_oid}" Name="{name}" DataType="{data_type}"{digits}>'
                f"{_description(_plain_text(f'{name} in {spec.canonical_unit}', 'en'))}"
                f'<MeasurementUnitRef MeasurementUnitOID="{_esc(unit)}"/></ItemDef>\n'
                f'<ItemDef OID="{c.original_value_oid}" Name="{name}_ORIG" DataType="float">'
                f"{_description(_plain_text('Value exactly as the device sent it', 'en'))}"
                "</ItemDef>\n"
                f'<ItemDef OID="{c.original_unit_oid}" Name="{name}_ORIG_UNIT" DataType="text">'
                f"{_description(_plain_text('Unit as the device sent it', 'en'))}</ItemDef>\n"
            )
    return "".join(parts)


def _question_item_defs(version: QuestionnaireVersion, item: Item, units: Mapping[str, str]) -> str:
    question = f"<Question>{_translated(item.texts)}</Question>"
    sdtm = f'<Alias Context="SDTM --TEST" Name="{_esc(item.test_label)}"/>'
    if item.type is ItemType.MULTIPLE_CHOICE:
        return "".join(
            f'<ItemDef OID="{_esc(_item_oid(version, item, c.code))}"'
            f' Name="{_esc(f"{item.code}_{c.code}")}" DataType="boolean">'
            + _description(
                _plain_text(
                    f"Multiple choice {item.code}: true when {c.code} was selected, false when"
                    " not; no value when the item was not answered",
                    "en",
                )
            )
            + "<Question>"
            + _translated(
                {lang: f"{text}: {c.texts.get(lang, c.code)}" for lang, text in item.texts.items()}
            )
            + "</Question></ItemDef>\n"
            for c in item.choices
        )
    attributes = f'DataType="{_DATA_TYPE[item.type]}"{_size(item)}'
    unit = item.unit or (VAS_UNIT if item.type is ItemType.VAS else None)
    unit_oid = units.get(unit) if unit else None
    unit_ref = f'<MeasurementUnitRef MeasurementUnitOID="{_esc(unit_oid)}"/>' if unit_oid else ""
    codelist = (
        f'<CodeListRef CodeListOID="{_esc(_codelist_oid(version, item))}"/>'
        if item.type is ItemType.SINGLE_CHOICE
        else ""
    )
    return (
        f'<ItemDef OID="{_esc(_item_oid(version, item))}" Name="{_esc(item.code)}" {attributes}>'
        f"{_description(_item_description(item))}{question}{unit_ref}{_range_checks(item)}"
        f"{codelist}{sdtm}</ItemDef>\n"
    )


def _size(item: Item) -> str:
    if item.type is ItemType.SINGLE_CHOICE:
        return f' Length="{max(len(c.code) for c in item.choices)}"'
    if item.type in (ItemType.DECIMAL, ItemType.VAS) and isinstance(item.step, Decimal):
        exponent = item.step.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return f' SignificantDigits="{places}"'
    return ""


def _item_description(item: Item) -> str:
    if item.type is ItemType.FREE_TEXT:
        return _plain_text("Free text: personal data, never exported (no ItemData)", "en")
    if item.type is ItemType.TIME:
        return _plain_text("Local wall time, without a UTC offset", "en")
    if item.anchors:
        languages = sorted({lang for texts in item.anchors.values() for lang in texts})
        return _translated(
            {
                lang: "; ".join(
                    f"{position} = {texts[lang]}"
                    for position, texts in sorted(item.anchors.items())
                    if lang in texts
                )
                for lang in languages
            }
        )
    return ""


def _range_checks(item: Item) -> str:
    checks = []
    for comparator, bound in (("GE", item.minimum), ("LE", item.maximum)):
        if bound is not None:
            checks.append(
                f'<RangeCheck Comparator="{comparator}" SoftHard="Hard">'
                f"<CheckValue>{_number(bound)}</CheckValue></RangeCheck>"
            )
    return "".join(checks)


def _codelist_oid(version: QuestionnaireVersion, item: Item) -> str:
    return f"CL.{version.code}.V{version.version}.{item.code}"


def _code_list(oid: str, name: str, items: Sequence[tuple[str, str]]) -> str:
    """`items`: (coded value, decode XML) in order."""
    entries = "".join(
        f'<CodeListItem CodedValue="{_esc(code)}" OrderNumber="{n}"><Decode>{decode}</Decode>'
        "</CodeListItem>"
        for n, (code, decode) in enumerate(items, start=1)
    )
    return f'<CodeList OID="{_esc(oid)}" Name="{_esc(name)}" DataType="text">{entries}</CodeList>\n'


def _enum_list(oid: str, name: str, values: Iterable[StrEnum]) -> str:
    return _code_list(oid, name, [(v.value, _plain_text(_label(v.value), "en")) for v in values])


def _code_lists(catalog: _Catalog) -> str:
    parts = [
        _enum_list("CL.SUBJECT_STATUS", "Participant status", ParticipantStatus),
        _enum_list("CL.CONTACT_MODE", "Contact mode", ContactMode),
        _enum_list("CL.VISIT_STATUS", "Visit status", VisitStatus),
        _enum_list("CL.VISIT_OUTCOME", "Visit outcome", VisitOutcome),
        _enum_list("CL.ENTRY_STATUS", "Diary entry status", EntryStatus),
        _enum_list("CL.ENTRY_CODE", "Why an entry was quarantined", EntryCode),
        _enum_list("CL.READING_STATUS", "Reading status", ReadingStatus),
        _code_list(
            "CL.READING_CODE",
            "Why a reading was quarantined",
            [(c, _plain_text(_label(c), "en")) for c in READING_QUARANTINE_CODES],
        ),
        _enum_list("CL.TIMELINESS", "Timeliness", Timeliness),
    ]
    arms = sorted(catalog.meta.arms, key=lambda arm: arm.code)
    if arms:
        parts.append(_code_list("CL.ARM", "Arm", [(a.code, _plain_text(a.name)) for a in arms]))
    for version in catalog.versions.values():
        parts += [
            _code_list(
                _codelist_oid(version, item),
                f"{version.code} v{version.version} {item.code}",
                [(c.code, _translated(c.texts)) for c in item.choices],
            )
            for item in version.items
            if item.type is ItemType.SINGLE_CHOICE
        ]
    return "".join(parts)


# -- admin data -------------------------------------------------------------------------------


@dataclass
class _Admin:
    """Users, locations and meanings the clinical data referred to, for AdminData."""

    catalog: _Catalog
    participants: IO[str]  # <User> elements of participants, written while streaming
    extra_staff: dict[uuid.UUID, str | None] = field(default_factory=dict)
    generic_users: set[str] = field(default_factory=set)
    unknown_sites: set[uuid.UUID] = field(default_factory=set)
    meanings: set[str] = field(default_factory=lambda: {m.value for m in Meaning})

    def staff(self, staff_id: uuid.UUID, name: str | None = None) -> str:
        if staff_id not in self.catalog.meta.staff and (
            name is not None or staff_id not in self.extra_staff
        ):
            self.extra_staff[staff_id] = name
        return f"USR.{staff_id}"

    def generic(self, oid: str) -> str:
        self.generic_users.add(oid)
        return oid

    def location(self, site_id: uuid.UUID) -> str:
        if site_id not in self.catalog.sites:
            self.unknown_sites.add(site_id)
        return self.catalog.site_oid(site_id)

    def signature_def(self, meaning: str) -> str:
        self.meanings.add(meaning)
        return f"SD.{_esc(meaning)}"

    def write(self, output: OutputFile) -> None:
        output.write("<AdminData>\n" + self._staff_users())
        self.participants.seek(0)
        while chunk := self.participants.read(_COPY_CHUNK):
            output.write(chunk)
        output.write(self._locations() + self._signature_defs() + "</AdminData>\n")

    def _staff_users(self) -> str:
        names: dict[uuid.UUID, str | None] = {**self.extra_staff, **self.catalog.meta.staff}
        parts = [
            f'<User OID="USR.{staff_id}">'
            + (f"<FullName>{_esc(name)}</FullName>" if name else "")
            + "</User>\n"
            for staff_id, name in sorted(names.items(), key=lambda pair: str(pair[0]))
        ]
        labels = {USR_SYSTEM: SOURCE_SYSTEM, USR_UNKNOWN: "Unidentified actor"}
        parts += [
            f'<User OID="{oid}" UserType="Other"><DisplayName>{labels[oid]}</DisplayName></User>\n'
            for oid in sorted(self.generic_users)
        ]
        return "".join(parts)

    def _locations(self) -> str:
        catalog = self.catalog
        rows = [
            (site.code, catalog.site_oid(site.id), site.name, site.created_at.date())
            for site in catalog.meta.sites
        ]
        study_day = catalog.meta.study.created_at.date()
        rows += [(str(s), catalog.site_oid(s), f"Site {s}", study_day) for s in self.unknown_sites]
        return "".join(
            f'<Location OID="{oid}" Name="{_esc(name)}" LocationType="Site">'
            f'<MetaDataVersionRef StudyOID="{_esc(catalog.study_oid)}"'
            f' MetaDataVersionOID="{catalog.mdv_oid}" EffectiveDate="{day.isoformat()}"/>'
            "</Location>\n"
            for _, oid, name, day in sorted(rows)
        )

    def _signature_defs(self) -> str:
        texts = {m.value: text for m, text in MEANING_TEXT.items()}
        return "".join(
            f'<SignatureDef OID="SD.{_esc(meaning)}" Methodology="Electronic">'
            f"<Meaning>{_esc(texts.get(meaning, meaning))}</Meaning>"
            f"<LegalReason>{LEGAL_REASON}</LegalReason></SignatureDef>\n"
            for meaning in sorted(self.meanings)
        )


# -- clinical data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tx:
    event: Event | None
    kind: str  # Insert, Update or Remove
    value: str | None


def _transactions(
    history: Sequence[tuple[Event, object]],
    current: str | None,
    column: _Column,
    origin: Event | None,
) -> list[_Tx]:
    """The Insert/Update/Remove sequence that ends in `current`.

    `history` holds the logged values in event order; the last transaction takes the record's
    value, so the replay always ends in the snapshot's state.
    """
    if not history:
        return [] if current is None else [_Tx(origin, "Insert", current)]
    values = [column.convert(raw) for _, raw in history[:-1]] + [current]
    found: list[_Tx] = []
    previous: str | None = None
    for (event, _), value in zip(history, values, strict=True):
        if value is None:
            if previous is not None:
                found.append(_Tx(event, "Remove", None))
        elif previous is None:
            found.append(_Tx(event, "Insert", value))
        elif column.always_update or value != previous:
            found.append(_Tx(event, "Update", value))
        previous = value
    return found


class _Sink:
    """Buffered writes of clinical data to the temporary file, with rows and progress."""

    def __init__(self, handle: IO[str], progress: Progress) -> None:
        self.handle = handle
        self.progress = progress
        self.parts: list[str] = []
        self.rows = 0
        self.pending = 0

    def add(self, text: str, rows: int = 0) -> None:
        self.parts.append(text)
        self.rows += rows
        self.pending += rows
        if len(self.parts) >= _FLUSH_PARTS:
            self.flush()

    def flush(self) -> None:
        self.handle.write("".join(self.parts))
        self.parts.clear()
        if self.pending:
            self.progress(self.pending)
            self.pending = 0


@dataclass(frozen=True)
class _Element:
    """A clinical-data element that may appear more than once (for further signatures)."""

    tag: str
    attributes: str  # escaped, without TransactionType

    def open(self, transaction: str) -> str:
        return f'<{self.tag} {self.attributes} TransactionType="{transaction}">'

    def close(self) -> str:
        return f"</{self.tag}>\n"


class _SubjectWriter:
    """One SubjectData (and the repeats carrying further signatures)."""

    def __init__(self, catalog: _Catalog, admin: _Admin, subject: Subject, sink: _Sink) -> None:
        self.catalog = catalog
        self.admin = admin
        self.subject = subject
        self.info = subject.info
        self.sink = sink
        self.key = _esc(subject.info.subject_id)
        self.participant_user: str | None = None
        self.audits: dict[uuid.UUID, str] = {}
        self.by_entity: dict[tuple[str, uuid.UUID], list[Event]] = {}
        for event in subject.events:
            self.by_entity.setdefault((event.entity_type, event.entity_id), []).append(event)
        batches = [e for e in subject.events if e.entity_type == "ReadingBatch"]
        self.batches = sorted(batches, key=lambda e: (e.recorded_at, e.position))
        self.batch_times = [e.recorded_at for e in self.batches]
        self.batch_audits: dict[uuid.UUID, str] = {}
        self.signatures: dict[tuple[str, uuid.UUID], list[RecordSignature]] = {}
        for signature in sorted(subject.signatures, key=lambda s: (s.signed_at, str(s.id))):
            key = (signature.record_type, signature.record_id)
            self.signatures.setdefault(key, []).append(signature)

    # users, locations, audit records

    def _participant(self) -> str:
        if self.participant_user is None:
            self.participant_user = f"USR.SUBJECT.{self.key}"
            self.admin.participants.write(
                f'<User OID="{self.participant_user}" UserType="Other"/>\n'
            )
        return self.participant_user

    def _actor(self, kind: str, actor_id: uuid.UUID | None) -> str:
        if actor_id is None or kind == "SYSTEM":
            return self.admin.generic(USR_SYSTEM)
        if actor_id == self.info.id:
            return self._participant()
        if kind == "STAFF" or actor_id in self.catalog.meta.staff:
            return self.admin.staff(actor_id)
        return self.admin.generic(USR_UNKNOWN)  # never print another participant's id

    def _signer(self, signature: RecordSignature) -> str:
        if signature.signer_id == self.info.id:
            return self._participant()
        if signature.signer is not None or signature.signer_id in self.catalog.meta.staff:
            return self.admin.staff(signature.signer_id, signature.signer)
        return self.admin.generic(USR_UNKNOWN)

    def _location(self, site_id: uuid.UUID | None) -> str:
        return self.admin.location(site_id or self.info.site_id)

    def _audit(self, event: Event | None) -> str:
        if event is None:
            return ""
        found = self.audits.get(event.id)
        if found is None:
            reason = (
                f"<ReasonForChange>{_esc(event.reason)}</ReasonForChange>" if event.reason else ""
            )
            found = (
                f'<AuditRecord><UserRef UserOID="{self._actor(event.actor_kind, event.actor_id)}"/>'
                f'<LocationRef LocationOID="{self._location(event.site_id)}"/>'
                f"<DateTimeStamp>{_stamp(event.recorded_at)}</DateTimeStamp>{reason}"
                f"<SourceID>{event.id}</SourceID></AuditRecord>"
            )
            self.audits[event.id] = found
        return found

    def _events(self, entity_type: str, entity_id: uuid.UUID) -> list[Event]:
        return self.by_entity.get((entity_type, entity_id), [])

    def _origin(self, events: Sequence[Event]) -> Event | None:
        """The event that created an entity; failing that, the subject's first event."""
        if events:
            return events[0]
        return self.subject.events[0] if self.subject.events else None

    # signatures

    def _signed(self, element: _Element, entity: tuple[str, uuid.UUID]) -> tuple[str, str, str]:
        """For a signed record's element: its opening with the audit record and the first
        valid signature; the invalidated signatures as annotations; and the repeats of the
        element that carry each further valid signature (to follow its closing tag)."""
        signatures = self.signatures.get(entity, [])
        valid = [s for s in signatures if s.valid]
        notes = "".join(
            f'<Annotation SeqNum="{n}" TransactionType="Insert"><Comment>'
            f"{_esc(self._invalidated(s))}</Comment></Annotation>"
            for n, s in enumerate((s for s in signatures if not s.valid), start=1)
        )
        opening = (
            element.open("Insert")
            + self._audit(self._origin(self._events(*entity)))
            + (self._signature(valid[0]) if valid else "")
        )
        repeats = "".join(
            element.open("Update")
            + self._audit(next(iter(self._events("Signature", s.id)), None))
            + self._signature(s)
            + element.close()
            for s in valid[1:]
        )
        return opening, notes, repeats

    def _signature(self, signature: RecordSignature) -> str:
        return (
            f'<Signature><UserRef UserOID="{self._signer(signature)}"/>'
            f'<LocationRef LocationOID="{self._location(None)}"/>'
            f'<SignatureRef SignatureOID="{self.admin.signature_def(signature.meaning)}"/>'
            f"<DateTimeStamp>{_stamp(signature.signed_at)}</DateTimeStamp></Signature>"
        )

    def _invalidated(self, signature: RecordSignature) -> str:
        return (
            f"Invalidated signature: {signature.meaning} by {self._signer(signature)} at"
            f" {_stamp(signature.signed_at)} on record version {signature.record_version};"
            " the record changed after signing."
        )

    # item groups

    def _group(
        self,
        group_oid: str,
        entity: tuple[str, uuid.UUID],
        columns: Sequence[tuple[_Column, str | None]],
        repeat_key: str | None = None,
    ) -> str:
        """One ItemGroupData: every column's transactions, in event order."""
        events = self._events(*entity)
        origin = self._origin(events)
        ordered: list[tuple[int, int, int, str, _Tx]] = []
        for index, (column, current) in enumerate(columns):
            history = [
                (event, change.new)
                for event in events
                for change in event.changes
                if change.field == column.field and not change.personal
            ]
            anchor = next(
                (e for e in events for c in e.changes if c.field in column.anchors), origin
            )
            for seq, tx in enumerate(_transactions(history, current, column, anchor)):
                position = tx.event.position if tx.event else 0
                ordered.append((position, index, seq, column.oid, tx))
        items = "".join(self._item(oid, tx) for *_, oid, tx in sorted(ordered, key=lambda o: o[:3]))
        key = f' ItemGroupRepeatKey="{_esc(repeat_key)}"' if repeat_key else ""
        return (
            f'<ItemGroupData ItemGroupOID="{_esc(group_oid)}"{key} TransactionType="Insert">'
            f"{items}</ItemGroupData>\n"
        )

    def _item(self, oid: str, tx: _Tx, unit_ref: str = "") -> str:
        value = "" if tx.value is None else f' Value="{_esc(tx.value)}"'
        return (
            f'<ItemData ItemOID="{_esc(oid)}" TransactionType="{tx.kind}"{value}>'
            f"{self._audit(tx.event)}{unit_ref}</ItemData>"
        )

    # the subject

    async def write(self) -> None:
        element = _Element("SubjectData", f'SubjectKey="{self.key}"')
        opening, notes, repeats = self._signed(element, ("Participant", self.info.id))
        site = f'<SiteRef LocationOID="{self._location(None)}"/>'
        self.sink.add(f"{opening}{site}{notes}\n")
        self._enrolment()
        for visit in self.subject.visits:
            self._visit(visit)
        self._diary()
        await self._readings()
        self.sink.add(element.close() + repeats)

    def _enrolment(self) -> None:
        info = self.info
        arm = self.catalog.arm_codes.get(str(info.arm_id)) if info.arm_id else None
        arms = self.catalog.arm_codes

        def arm_code(raw: object) -> str | None:
            return None if raw is None else arms.get(str(raw), str(raw))

        columns = [
            (_Column("I.SUBJECT.STATUS", "status", _as_text), info.status.value),
            (_Column("I.SUBJECT.ARM", "arm_id", arm_code), arm),
            (
                _Column("I.SUBJECT.ENROLLED_ON", "enrolled_on", _as_date, ("arm_id",)),
                _as_date(info.enrolled_on),
            ),
        ]
        subject_group = self._group(IG_SUBJECT, ("Participant", info.id), columns)
        self.sink.add(
            f'<StudyEventData StudyEventOID="{SE_ENROLMENT}" TransactionType="Insert">'
            f'<FormData FormOID="{F_SUBJECT}" TransactionType="Insert">{subject_group}'
            "</FormData>\n",
            rows=1,
        )
        for consent in self.subject.consents:
            self._consent(consent)
        self.sink.add("</StudyEventData>\n")

    def _consent(self, consent: SignedConsent) -> None:
        entity = ("Consent", consent.id)
        columns = [
            (_Column("I.CONSENT.VERSION", "number", _as_integer), str(consent.number)),
            (_Column("I.CONSENT.LANGUAGE", "language", _as_text), consent.language),
            (_Column("I.CONSENT.SIGNED_AT", "signed_at", _as_datetime), _stamp(consent.signed_at)),
        ]
        self._form(F_CONSENT, str(consent.id), entity, [self._group(IG_CONSENT, entity, columns)])

    def _form(
        self, form_oid: str, repeat_key: str, entity: tuple[str, uuid.UUID], groups: list[str]
    ) -> None:
        """A signed record's FormData: audit, signature, notes, groups, signature repeats."""
        element = _Element(
            "FormData", f'FormOID="{_esc(form_oid)}" FormRepeatKey="{_esc(repeat_key)}"'
        )
        opening, notes, repeats = self._signed(element, entity)
        self.sink.add(
            opening + notes + "".join(groups) + element.close() + repeats, rows=len(groups)
        )

    def _visit(self, visit: Visit) -> None:
        definition = self.catalog.definitions.get(visit.definition_id)
        if definition is None:
            raise ValueError(f"visit {visit.id}: its definition is not in the snapshot")
        zone = visit.timezone

        def local(raw: object) -> str | None:
            if raw is None:
                return None
            try:
                wall = datetime.fromisoformat(str(raw))
            except ValueError:
                return str(raw)
            if wall.tzinfo is not None:
                return _stamp(wall)
            return wall_to_utc(wall, zone).astimezone(ZoneInfo(zone)).isoformat()

        columns = [
            (_Column("I.VISIT.MODE", "mode", _as_text), visit.mode.value),
            (_Column("I.VISIT.STATUS", "status", _as_text), visit.status.value),
            (_Column("I.VISIT.OUTCOME", "outcome", _as_text), _as_text(visit.outcome)),
            (
                _Column("I.VISIT.SCHEDULED_START", "local_start", local),
                local(visit.local_start.isoformat()),
            ),
            (
                _Column("I.VISIT.DURATION", "duration_minutes", _as_integer),
                str(visit.duration_minutes),
            ),
            (
                _Column("I.VISIT.OUT_OF_WINDOW", "out_of_window", _as_bool),
                _flag(visit.out_of_window),
            ),
            (
                _Column("I.VISIT.COMPLETED_AT", "completed_at", _as_datetime, ("outcome",)),
                _as_datetime(visit.completed_at),
            ),
        ]
        entity = ("Visit", visit.id)
        element = _Element(
            "StudyEventData",
            f'StudyEventOID="{_esc(_visit_event_oid(definition))}"'
            f' StudyEventRepeatKey="{visit.id}"',
        )
        opening, notes, repeats = self._signed(element, entity)
        self.sink.add(
            f'{opening}{notes}<FormData FormOID="{F_VISIT}" TransactionType="Insert">'
            f"{self._group(IG_VISIT, entity, columns)}</FormData>{element.close()}{repeats}",
            rows=1,
        )

    def _diary(self) -> None:
        occurrences: dict[str, list[DiaryEntry]] = {}
        for entry in self.subject.entries:
            occurrences.setdefault(entry.occurrence_key, []).append(entry)
        for key, entries in occurrences.items():
            self.sink.add(
                f'<StudyEventData StudyEventOID="{SE_DIARY}" StudyEventRepeatKey="{_esc(key)}"'
                ' TransactionType="Insert">\n'
            )
            for entry in entries:
                self._entry(entry)
            self.sink.add("</StudyEventData>\n")

    def _entry(self, entry: DiaryEntry) -> None:
        key = (entry.questionnaire_code, entry.questionnaire_version)
        version = self.catalog.versions.get(key)
        if version is None:
            raise ValueError(f"diary entry {entry.id}: its questionnaire is not in the snapshot")
        entity = ("DiaryEntry", entry.id)
        status = [
            (_Column("I.DIARY.STATUS", "status", _as_text), entry.status.value),
            (
                _Column("I.DIARY.QUARANTINE_CODE", "quarantine_code", _as_text, ("status",)),
                _as_text(entry.quarantine_code),
            ),
            (_Column("I.DIARY.TIMELINESS", "timeliness", _as_text), entry.timeliness.value),
            (_Column("I.DIARY.DUE_AT", "due_at", _as_datetime), _stamp(entry.due_at)),
            (
                _Column("I.DIARY.COMPLETED_AT", "completed_at", _as_datetime),
                _stamp(entry.completed_at),
            ),
            (
                _Column("I.DIARY.RECEIVED_AT", "received_at", _as_datetime),
                _stamp(entry.received_at),
            ),
            (_Column("I.DIARY.CLOCK_SKEWED", "clock_skewed", _as_bool), _flag(entry.clock_skewed)),
            (
                _Column("I.DIARY.CONSENT_SUPERSEDED", "consent_superseded", _as_bool, ("status",)),
                _flag(entry.consent_superseded),
            ),
        ]
        answers = [
            (column, column.convert(entry.answers.get(column.field.removeprefix("answers."))))
            for column in self.catalog.answer_columns[key]
        ]
        groups = [
            self._group(IG_ENTRY, entity, status),
            self._group(_group_oid(version), entity, answers),
        ]
        self._form(_form_oid(version), str(entry.id), entity, groups)

    # readings: the hot path

    def _batch_audit(self, stored: StoredReading) -> str:
        found = self.batch_audits.get(stored.batch_id)
        if found is None:
            found = self._audit(self._batch_event(stored))
            self.batch_audits[stored.batch_id] = found
        return found

    def _batch_event(self, stored: StoredReading) -> Event | None:
        named = self._events("ReadingBatch", stored.batch_id)
        if named:
            return named[0]
        if not self.batches:
            return self._origin([])
        at = bisect.bisect_right(self.batch_times, stored.received_at)
        return self.batches[at - 1] if at else self.batches[0]

    async def _readings(self) -> None:
        opened = False
        async for stored in self.subject.readings():
            if not opened:
                self.sink.add(
                    f'<StudyEventData StudyEventOID="{SE_READINGS}" TransactionType="Insert">'
                    f'<FormData FormOID="{F_READINGS}" TransactionType="Insert">\n'
                )
                opened = True
            self.sink.add(self._reading(stored), rows=1)
        if opened:
            self.sink.add("</FormData></StudyEventData>\n")

    def _reading(self, stored: StoredReading) -> str:
        """One reading. Its values all come from one batch event, so the AuditRecord sits on
        the ItemGroupData and applies to every ItemData in it (ODM's inheritance); only the
        logical delete, a later event, carries its own. A third of the bytes per reading."""
        reading = stored.reading
        layout = self.catalog.kinds[reading.kind]
        audit = self._batch_audit(stored)
        parts = [
            f'<ItemGroupData ItemGroupOID="{layout.group_oid}" ItemGroupRepeatKey="{stored.id}"'
            f' TransactionType="Insert">{audit}<ItemData ItemOID="{I_RD_START}"'
            f' TransactionType="Insert" Value="{reading.effective_start.isoformat()}"/>'
        ]
        if reading.effective_end is not None:
            parts.append(
                f'<ItemData ItemOID="{I_RD_END}" TransactionType="Insert"'
                f' Value="{reading.effective_end.isoformat()}"/>'
            )
        for component in layout.components:
            measurement = reading.components[component.name]
            unit_ref = (
                layout.unit_ref
                if measurement.unit == layout.unit
                else self.catalog.unit_ref(measurement.unit)
            )
            parts.append(
                f'<ItemData ItemOID="{component.value_oid}" TransactionType="Insert"'
                f' Value="{format(measurement.value, "f")}">{unit_ref}</ItemData>'
                f'<ItemData ItemOID="{component.original_value_oid}" TransactionType="Insert"'
                f' Value="{format(measurement.original_value, "f")}"/>'
            )
            if measurement.original_unit:
                parts.append(
                    f'<ItemData ItemOID="{component.original_unit_oid}"'
                    f' TransactionType="Insert" Value="{_esc(measurement.original_unit)}"/>'
                )
        parts.append(
            f'<ItemData ItemOID="{I_RD_SOURCE}" TransactionType="Insert"'
            f' Value="{_esc(reading.source_id)}"/>'
            f'<ItemData ItemOID="{I_RD_DELETED}" TransactionType="Insert" Value="false"/>'
        )
        parts.append(self._intake(stored))
        if stored.deleted_at is not None:
            parts.append(self._deletion(stored, audit))
        if stored.reviewed_at is not None:
            parts.append(self._review(stored, audit))
        parts.append("</ItemGroupData>\n")
        return "".join(parts)

    def _intake(self, stored: StoredReading) -> str:
        """How the reading was received: the status then (a review is an Update), why it was
        quarantined, the consent flag and the device's clock with its offset."""
        received = ReadingStatus.QUARANTINED if stored.reviewed_at else stored.status
        parts = [
            f'<ItemData ItemOID="{I_RD_STATUS}" TransactionType="Insert" Value="{received.value}"/>'
        ]
        if stored.quarantine_code:
            parts.append(
                f'<ItemData ItemOID="{I_RD_QUARANTINE}" TransactionType="Insert"'
                f' Value="{_esc(stored.quarantine_code)}"/>'
            )
        parts.append(
            f'<ItemData ItemOID="{I_RD_CONSENT}" TransactionType="Insert"'
            f' Value="{_flag(stored.consent_superseded)}"/>'
        )
        if stored.reading.device_time is not None:
            parts.append(
                f'<ItemData ItemOID="{I_RD_DEVICE_TIME}" TransactionType="Insert"'
                f' Value="{stored.reading.device_time.isoformat()}"/>'
            )
        return "".join(parts)

    def _review(self, stored: StoredReading, batch_audit: str) -> str:
        """The site's decision on a quarantined reading: an Update, audited by its event."""
        events = self._events(StoredReading.ENTITY, stored.id)
        review = next(
            (e for e in events for c in e.changes if c.field == "reviewed_at"),
            events[-1] if events else None,
        )
        audit = self._audit(review) if review else batch_audit
        return (
            f'<ItemData ItemOID="{I_RD_STATUS}" TransactionType="Update"'
            f' Value="{stored.status.value}">{audit}</ItemData>'
        )

    def _deletion(self, stored: StoredReading, batch_audit: str) -> str:
        """The logical delete: an Update of the flag, audited by the deletion event."""
        events = self._events(StoredReading.ENTITY, stored.id)
        deletion = next(
            (e for e in events for c in e.changes if c.field == "deleted_at"),
            events[-1] if events else None,
        )
        audit = self._audit(deletion) if deletion else batch_audit
        return (
            f'<ItemData ItemOID="{I_RD_DELETED}" TransactionType="Update" Value="true">'
            f"{audit}</ItemData>"
        )


# -- the writer --------------------------------------------------------------------------------


async def write_odm(snapshot: Snapshot, directory: Path, progress: Progress) -> list[WrittenFile]:
    """Write `odm.xml` (CDISC ODM 1.3.2, archival) into `directory`; see the module docstring."""
    meta = snapshot.meta
    catalog = _Catalog.of(meta)
    output = OutputFile(directory / FILE_NAME)
    with (
        output,
        tempfile.TemporaryFile("w+", encoding="utf-8", newline="", dir=directory) as clinical,
        tempfile.TemporaryFile("w+", encoding="utf-8", newline="", dir=directory) as users,
    ):
        output.write(_header(meta) + _study(catalog))
        admin = _Admin(catalog, users)
        sink = _Sink(clinical, progress)
        async for subject in snapshot.subjects():
            await _SubjectWriter(catalog, admin, subject, sink).write()
        sink.flush()
        admin.write(output)
        output.write(
            f'<ClinicalData StudyOID="{_esc(catalog.study_oid)}"'
            f' MetaDataVersionOID="{catalog.mdv_oid}">\n'
        )
        # A large study's clinical data is gigabytes: copy it off the event loop.
        await asyncio.to_thread(_copy, clinical, output)
        output.write("</ClinicalData>\n</ODM>\n", rows=sink.rows)
    return [output.written(directory)]


def _copy(source: IO[str], output: OutputFile) -> None:
    source.seek(0)
    while chunk := source.read(_COPY_CHUNK):
        output.write(chunk)
