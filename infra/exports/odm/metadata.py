"""The Study element: global variables, units, protocol, study events, forms and item groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.questionnaires import ItemType
from infra.exports.model import (
    Meta,
)
from infra.exports.odm import safety
from infra.exports.odm.catalog import Catalog, form_oid, group_oid, item_oid, visit_event_oid
from infra.exports.odm.item_defs import (
    CONSENT_ITEMS,
    ENTRY_ITEMS,
    SIGNATURE_ITEMS,
    SUBJECT_ITEMS,
    VISIT_ITEMS,
    code_lists,
    item_defs,
)
from infra.exports.odm.text import (
    F_CONSENT,
    F_READINGS,
    F_SIGNATURE,
    F_SUBJECT,
    F_VISIT,
    I_RD_CONSENT,
    I_RD_DELETED,
    I_RD_DEVICE_TIME,
    I_RD_END,
    I_RD_QUARANTINE,
    I_RD_SOURCE,
    I_RD_START,
    I_RD_STATUS,
    IG_CONSENT,
    IG_ENTRY,
    IG_SIGNATURE,
    IG_SUBJECT,
    IG_VISIT,
    ODM_NAMESPACE,
    SE_DIARY,
    SE_ENROLMENT,
    SE_READINGS,
    SOURCE_SYSTEM,
    description,
    esc,
    label,
    plain_text,
    stamp,
    translated,
)


def header(meta: Meta) -> str:
    summary = (
        f"Hearth archival export of study {meta.study.code} at event-log position "
        f"{meta.position}, chain head {meta.chain_head or '(empty log)'}"
    )
    created = stamp(meta.created_at)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ODM xmlns="{ODM_NAMESPACE}" Description="{esc(summary)}"'
        ' FileType="Transactional" Granularity="All" Archival="Yes"'
        f' FileOID="EXPORT.{meta.export_id}" CreationDateTime="{created}"'
        f' AsOfDateTime="{created}" ODMVersion="1.3.2"'
        f' Originator="{SOURCE_SYSTEM}" SourceSystem="{SOURCE_SYSTEM}">\n'
    )


def study(catalog: Catalog) -> str:
    study = catalog.meta.study
    return (
        f'<Study OID="{esc(catalog.study_oid)}">\n'
        f"<GlobalVariables><StudyName>{esc(study.code)}</StudyName>"
        f"<StudyDescription>{esc(study.title)}</StudyDescription>"
        f"<ProtocolName>{esc(study.code)}</ProtocolName></GlobalVariables>\n"
        f"<BasicDefinitions>{_measurement_units(catalog)}</BasicDefinitions>\n"
        f'<MetaDataVersion OID="{catalog.mdv_oid}"'
        f' Name="{esc(study.code)} at event-log position {catalog.meta.position}">\n'
        f"{_protocol(catalog)}{_study_event_defs(catalog)}{_form_defs(catalog)}"
        f"{_item_group_defs(catalog)}{item_defs(catalog)}{safety.item_defs()}"
        f"{code_lists(catalog)}{safety.code_lists()}"
        "</MetaDataVersion>\n</Study>\n"
    )


def _measurement_units(catalog: Catalog) -> str:
    return "".join(
        f'<MeasurementUnit OID="{esc(oid)}" Name="{esc(unit)}">'
        f"<Symbol>{plain_text(unit)}</Symbol>"
        f'<Alias Context="UCUM" Name="{esc(unit)}"/></MeasurementUnit>'
        for unit, oid in catalog.units.items()
    )


@dataclass(frozen=True)
class _EventDef:
    oid: str
    name: str
    repeating: str
    kind: str
    description: str
    forms: Sequence[str]


def _study_events(catalog: Catalog) -> list[_EventDef]:
    """Every StudyEventDef, in protocol order."""
    events = [
        _EventDef(
            SE_ENROLMENT,
            "Enrolment and consent",
            "No",
            "Common",
            "",
            [F_SUBJECT, F_CONSENT, F_SIGNATURE],
        )
    ]
    events += [
        _EventDef(
            visit_event_oid(d),
            d.name,
            "Yes",
            "Scheduled",
            f"Day {d.day} after enrolment, window -{d.window_before}/+{d.window_after} days;"
            f" contact modes {', '.join(d.modes)}",
            [F_VISIT, F_SIGNATURE],
        )
        for d in catalog.meta.visit_definitions
    ]
    diaries = [form_oid(v) for v in catalog.versions.values()] + [F_SIGNATURE]
    events.append(_EventDef(SE_DIARY, "Diary", "Yes", "Scheduled", "One per occurrence", diaries))
    events.append(_EventDef(SE_READINGS, "Device readings", "No", "Common", "", [F_READINGS]))
    events.append(_EventDef(*safety.protocol_event()))
    return events


def _protocol(catalog: Catalog) -> str:
    refs = "".join(
        f'<StudyEventRef StudyEventOID="{esc(e.oid)}" OrderNumber="{n}" Mandatory="No"/>'
        for n, e in enumerate(_study_events(catalog), start=1)
    )
    return f"<Protocol>{refs}</Protocol>\n"


def _study_event_defs(catalog: Catalog) -> str:
    parts = []
    for event in _study_events(catalog):
        refs = "".join(
            f'<FormRef FormOID="{esc(form)}" OrderNumber="{n}" Mandatory="No"/>'
            for n, form in enumerate(event.forms, start=1)
        )
        text = plain_text(event.description, "en") if event.description else ""
        parts.append(
            f'<StudyEventDef OID="{esc(event.oid)}" Name="{esc(event.name)}"'
            f' Repeating="{event.repeating}" Type="{event.kind}">{description(text)}'
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
        f'<ItemGroupRef ItemGroupOID="{esc(group)}" OrderNumber="{n}" Mandatory="Yes"/>'
        for n, group in enumerate(groups, start=1)
    )
    return (
        f'<FormDef OID="{esc(oid)}" Name="{esc(name)}" Repeating="{repeating}">'
        f"{description}{refs}{alias}</FormDef>\n"
    )


def _form_defs(catalog: Catalog) -> str:
    parts = [
        _form_def(F_SUBJECT, "Subject", "No", [IG_SUBJECT]),
        _form_def(F_CONSENT, "Consent", "Yes", [IG_CONSENT]),
        _form_def(F_VISIT, "Visit", "No", [IG_VISIT]),
    ]
    for version in catalog.versions.values():
        text = description(translated(version.title))
        alias = f'<Alias Context="Hearth content hash" Name="{esc(version.content_hash)}"/>'
        parts.append(
            _form_def(
                form_oid(version),
                f"{version.code} v{version.version}",
                "Yes",
                [IG_ENTRY, group_oid(version)],
                description=text,
                alias=alias,
            )
        )
    kinds = [layout.group_oid for layout in catalog.kinds.values()]
    parts.append(_form_def(F_READINGS, "Device readings", "No", kinds))
    parts.append(_form_def(F_SIGNATURE, "Signature state", "Yes", [IG_SIGNATURE]))
    return "".join(parts) + safety.form_defs()


def _item_group_def(oid: str, name: str, repeating: str, items: Sequence[tuple[str, bool]]) -> str:
    refs = "".join(
        f'<ItemRef ItemOID="{esc(item)}" OrderNumber="{n}"'
        f' Mandatory="{"Yes" if mandatory else "No"}"/>'
        for n, (item, mandatory) in enumerate(items, start=1)
    )
    return (
        f'<ItemGroupDef OID="{esc(oid)}" Name="{esc(name)}" Repeating="{repeating}">'
        f"{refs}</ItemGroupDef>\n"
    )


def _item_group_defs(catalog: Catalog) -> str:
    parts = [
        _item_group_def(IG_SUBJECT, "Subject", "No", [(d.oid, False) for d in SUBJECT_ITEMS]),
        _item_group_def(IG_CONSENT, "Consent", "No", [(d.oid, True) for d in CONSENT_ITEMS]),
        _item_group_def(IG_VISIT, "Visit", "No", [(d.oid, False) for d in VISIT_ITEMS]),
        _item_group_def(IG_ENTRY, "Diary entry", "No", [(d.oid, False) for d in ENTRY_ITEMS]),
        _item_group_def(
            IG_SIGNATURE, "Signature state", "No", [(d.oid, False) for d in SIGNATURE_ITEMS]
        ),
    ]
    for version in catalog.versions.values():
        refs: list[tuple[str, bool]] = []
        for item in version.items:
            if item.type is ItemType.MULTIPLE_CHOICE:
                refs += [(item_oid(version, item, c.code), item.required) for c in item.choices]
            else:
                refs.append((item_oid(version, item), item.required))
        name = f"{version.code} v{version.version} answers"
        parts.append(_item_group_def(group_oid(version), name, "No", refs))
    for kind, layout in catalog.kinds.items():
        refs = [(I_RD_START, True), (I_RD_END, False)]
        for c in layout.components:
            refs += [(c.value_oid, True), (c.original_value_oid, True)]
            refs.append((c.original_unit_oid, False))
        refs += [(I_RD_SOURCE, True), (I_RD_DELETED, True), (I_RD_STATUS, True)]
        refs += [(I_RD_QUARANTINE, False), (I_RD_CONSENT, True), (I_RD_DEVICE_TIME, False)]
        parts.append(_item_group_def(layout.group_oid, label(kind.value), "Yes", refs))
    return "".join(parts) + safety.item_group_defs()
