"""ItemDefs (fixed, per questionnaire item, per reading component) and CodeLists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from domain.design import ContactMode
from domain.devices import ReadingStatus
from domain.diaries import QUARANTINE_CODES, EntryStatus
from domain.participants import ParticipantStatus
from domain.questionnaires import VAS_UNIT, Item, ItemType, QuestionnaireVersion
from domain.readings import SPECS
from domain.schedules import Timeliness
from domain.signatures import Meaning
from domain.visits import VisitOutcome, VisitStatus
from infra.exports.odm.catalog import DATA_TYPE, Catalog, codelist_oid, item_oid
from infra.exports.odm.text import (
    I_RD_CONSENT,
    I_RD_DELETED,
    I_RD_DEVICE_TIME,
    I_RD_END,
    I_RD_QUARANTINE,
    I_RD_SOURCE,
    I_RD_START,
    I_RD_STATUS,
    I_SIG_CURRENT_VERSION,
    I_SIG_INVALIDATED_BY,
    I_SIG_MEANING,
    I_SIG_RECORD_KEY,
    I_SIG_RECORD_TYPE,
    I_SIG_SIGNED_AT,
    I_SIG_SIGNED_VERSION,
    I_SIG_STATE,
    READING_QUARANTINE_CODES,
    VISIT_DURATION_UNIT,
    description,
    esc,
    label,
    number,
    plain_text,
    translated,
)


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


SUBJECT_ITEMS = (
    _Def("I.SUBJECT.STATUS", "STATUS", "text", "Participant status", "CL.SUBJECT_STATUS"),
    _Def("I.SUBJECT.ARM", "ARM", "text", "Arm (randomisation)", "CL.ARM"),
    _Def("I.SUBJECT.ENROLLED_ON", "ENROLLED_ON", "date", "Day 0 of the schedule (local date)"),
)
CONSENT_ITEMS = (
    _Def("I.CONSENT.VERSION", "VERSION", "integer", "Consent document version number"),
    _Def("I.CONSENT.LANGUAGE", "LANGUAGE", "text", "Language the consent was read in (BCP 47)"),
    _Def("I.CONSENT.SIGNED_AT", "SIGNED_AT", "datetime", "When the participant signed"),
)
VISIT_ITEMS = (
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
ENTRY_ITEMS = (
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

# A signature's state, in the signed record's form: a reviewer's tool sees an invalidated
# signature for what it is, without reading a comment.
SIGNATURE_ITEMS = (
    _Def(I_SIG_RECORD_TYPE, "RECORD_TYPE", "text", "Signed record: Participant, Visit, ..."),
    _Def(
        I_SIG_RECORD_KEY,
        "RECORD_KEY",
        "text",
        "Signed record's key here: its repeat key, or the subject key",
    ),
    _Def(I_SIG_MEANING, "MEANING", "text", "What the signature means", "CL.SIGNATURE_MEANING"),
    _Def(I_SIG_SIGNED_AT, "SIGNED_AT", "datetime", "When it was signed"),
    _Def(I_SIG_SIGNED_VERSION, "SIGNED_VERSION", "integer", "Record version that was signed"),
    _Def(I_SIG_CURRENT_VERSION, "CURRENT_VERSION", "integer", "Record version in this export"),
    _Def(
        I_SIG_STATE,
        "STATE",
        "text",
        "VALID, or INVALIDATED by a later change",
        "CL.SIGNATURE_STATE",
    ),
    _Def(
        I_SIG_INVALIDATED_BY,
        "INVALIDATED_BY",
        "text",
        "The audit event (SourceID) of the change that invalidated it",
        length=36,
    ),
)
SIGNATURE_STATES = ("VALID", "INVALIDATED")


def _fixed_item_def(d: _Def, units: Mapping[str, str], *, has_arms: bool) -> str:
    length = f' Length="{d.length}"' if d.length else ""
    unit = units.get(d.unit) if d.unit else None
    unit_ref = f'<MeasurementUnitRef MeasurementUnitOID="{esc(unit)}"/>' if unit else ""
    listed = d.codelist is not None and (has_arms or d.codelist != "CL.ARM")  # no empty lists
    codelist = f'<CodeListRef CodeListOID="{d.codelist}"/>' if listed else ""
    return (
        f'<ItemDef OID="{d.oid}" Name="{d.name}" DataType="{d.data_type}"{length}>'
        f"{description(plain_text(d.description, 'en'))}{unit_ref}{codelist}</ItemDef>\n"
    )


def item_defs(catalog: Catalog) -> str:
    fixed = (
        *SUBJECT_ITEMS,
        *CONSENT_ITEMS,
        *VISIT_ITEMS,
        *ENTRY_ITEMS,
        *SIGNATURE_ITEMS,
        *_READING_ITEMS,
    )
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
                f"{description(plain_text(f'{name} in {spec.canonical_unit}', 'en'))}"
                f'<MeasurementUnitRef MeasurementUnitOID="{esc(unit)}"/></ItemDef>\n'
                f'<ItemDef OID="{c.original_value_oid}" Name="{name}_ORIG" DataType="float">'
                f"{description(plain_text('Value exactly as the device sent it', 'en'))}"
                "</ItemDef>\n"
                f'<ItemDef OID="{c.original_unit_oid}" Name="{name}_ORIG_UNIT" DataType="text">'
                f"{description(plain_text('Unit as the device sent it', 'en'))}</ItemDef>\n"
            )
    return "".join(parts)


def _question_item_defs(version: QuestionnaireVersion, item: Item, units: Mapping[str, str]) -> str:
    question = f"<Question>{translated(item.texts)}</Question>"
    sdtm = f'<Alias Context="SDTM --TEST" Name="{esc(item.test_label)}"/>'
    if item.type is ItemType.MULTIPLE_CHOICE:
        return "".join(
            f'<ItemDef OID="{esc(item_oid(version, item, c.code))}"'
            f' Name="{esc(f"{item.code}_{c.code}")}" DataType="boolean">'
            + description(
                plain_text(
                    f"Multiple choice {item.code}: true when {c.code} was selected, false when"
                    " not; no value when the item was not answered",
                    "en",
                )
            )
            + "<Question>"
            + translated(
                {lang: f"{text}: {c.texts.get(lang, c.code)}" for lang, text in item.texts.items()}
            )
            + "</Question></ItemDef>\n"
            for c in item.choices
        )
    attributes = f'DataType="{DATA_TYPE[item.type]}"{_size(item)}'
    unit = item.unit or (VAS_UNIT if item.type is ItemType.VAS else None)
    unit_oid = units.get(unit) if unit else None
    unit_ref = f'<MeasurementUnitRef MeasurementUnitOID="{esc(unit_oid)}"/>' if unit_oid else ""
    codelist = (
        f'<CodeListRef CodeListOID="{esc(codelist_oid(version, item))}"/>'
        if item.type is ItemType.SINGLE_CHOICE
        else ""
    )
    return (
        f'<ItemDef OID="{esc(item_oid(version, item))}" Name="{esc(item.code)}" {attributes}>'
        f"{description(_item_description(item))}{question}{unit_ref}{_range_checks(item)}"
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
        return plain_text("Free text: personal data, never exported (no ItemData)", "en")
    if item.type is ItemType.TIME:
        return plain_text("Local wall time, without a UTC offset", "en")
    if item.anchors:
        languages = sorted({lang for texts in item.anchors.values() for lang in texts})
        return translated(
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
                f"<CheckValue>{number(bound)}</CheckValue></RangeCheck>"
            )
    return "".join(checks)


def _code_list(oid: str, name: str, items: Sequence[tuple[str, str]]) -> str:
    """`items`: (coded value, decode XML) in order."""
    entries = "".join(
        f'<CodeListItem CodedValue="{esc(code)}" OrderNumber="{n}"><Decode>{decode}</Decode>'
        "</CodeListItem>"
        for n, (code, decode) in enumerate(items, start=1)
    )
    return f'<CodeList OID="{esc(oid)}" Name="{esc(name)}" DataType="text">{entries}</CodeList>\n'


def _enum_list(oid: str, name: str, values: Iterable[StrEnum]) -> str:
    return _code_list(oid, name, [(v.value, plain_text(label(v.value), "en")) for v in values])


def code_lists(catalog: Catalog) -> str:
    parts = [
        _enum_list("CL.SUBJECT_STATUS", "Participant status", ParticipantStatus),
        _enum_list("CL.CONTACT_MODE", "Contact mode", ContactMode),
        _enum_list("CL.VISIT_STATUS", "Visit status", VisitStatus),
        _enum_list("CL.VISIT_OUTCOME", "Visit outcome", VisitOutcome),
        _enum_list("CL.ENTRY_STATUS", "Diary entry status", EntryStatus),
        _enum_list("CL.ENTRY_CODE", "Why an entry was quarantined", QUARANTINE_CODES),
        _enum_list("CL.READING_STATUS", "Reading status", ReadingStatus),
        _code_list(
            "CL.READING_CODE",
            "Why a reading was quarantined",
            [(c, plain_text(label(c), "en")) for c in READING_QUARANTINE_CODES],
        ),
        _enum_list("CL.TIMELINESS", "Timeliness", Timeliness),
        _enum_list("CL.SIGNATURE_MEANING", "Signature meaning", Meaning),
        _code_list(
            "CL.SIGNATURE_STATE",
            "Signature state",
            [(state, plain_text(label(state), "en")) for state in SIGNATURE_STATES],
        ),
    ]
    arms = sorted(catalog.meta.arms, key=lambda arm: arm.code)
    if arms:
        parts.append(_code_list("CL.ARM", "Arm", [(a.code, plain_text(a.name)) for a in arms]))
    for version in catalog.versions.values():
        parts += [
            _code_list(
                codelist_oid(version, item),
                f"{version.code} v{version.version} {item.code}",
                [(c.code, translated(c.texts)) for c in item.choices],
            )
            for item in version.items
            if item.type is ItemType.SINGLE_CHOICE
        ]
    return "".join(parts)
