"""Adverse events, concomitant medications and protocol deviations: the ``SE.SAFETY`` event.

Metadata: ``SE.SAFETY`` (not repeating) with ``F.AE``, ``F.CM`` and ``F.DV``, each one
repeating ItemGroup (``IG.AE``, ``IG.CM``, ``IG.DV``, ``ItemGroupRepeatKey`` = the record id)
and the code lists of their coded fields. Clinical data: one ``SE.SAFETY`` StudyEventData per
participant that has such records, every value as the transactions of the events that set it,
each ItemData with its AuditRecord (the correction's coded reason in ``ReasonForChange``).
Logged values nested in a record's ``details`` (or a deviation's ``trigger``) are matched by
their key. Onsets, ends and deviation days are ODM ``partialDate`` (2026, 2026-06, 2026-06-03).

As in SDTM and FHIR, a participant's report the site has not confirmed stays out (for an
adverse event its only words are the participant's own, sealed); the participant's words
(``description``) and free-text reasons for change are never exported.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from enum import StrEnum

from domain.adverse_events import (
    ActionTaken,
    AdverseEvent,
    AdverseEventOutcome,
    AdverseEventStatus,
    Relationship,
    ReportedBy,
    Seriousness,
    Severity,
)
from domain.deviations import (
    DeviationCategory,
    DeviationSeverity,
    DeviationSource,
    DeviationStatus,
    ProtocolDeviation,
)
from domain.medications import ConcomitantMedication, Frequency, MedicationStatus, Route
from infra.exports.model import Event
from infra.exports.odm.audit import SubjectAudit, transactions
from infra.exports.odm.catalog import Column
from infra.exports.odm.text import (
    Convert,
    as_bool,
    as_datetime,
    as_decimal,
    as_text,
    description,
    esc,
    label,
    plain_text,
)

SE_SAFETY = "SE.SAFETY"
FORMS = (
    ("F.AE", "IG.AE", "Adverse event"),
    ("F.CM", "IG.CM", "Concomitant medication"),
    ("F.DV", "IG.DV", "Protocol deviation"),
)


def _text(raw: object) -> str | None:
    value = as_text(raw)
    return value or None  # an empty logged text is no value


def _criterion(criterion: Seriousness) -> Convert:
    def convert(raw: object) -> str | None:
        return None if not isinstance(raw, list | tuple) else as_bool(criterion.value in raw)

    return convert


# (OID suffix, logged field, convert, data type, description, code list values)
Spec = tuple[str, str, Convert, str, str, type[StrEnum] | None]
_AE: tuple[Spec, ...] = (
    ("STATUS", "status", _text, "text", "Reported or recorded", AdverseEventStatus),
    ("REPORTED_BY", "reported_by", _text, "text", "Who reported it", ReportedBy),
    ("TERM", "details.term", _text, "text", "Reported term (AETERM), as the site recorded", None),
    ("LLT_CODE", "details.llt_code", _text, "text", "MedDRA lowest level term code", None),
    ("LLT_NAME", "details.llt_name", _text, "text", "MedDRA lowest level term", None),
    ("PT_CODE", "details.pt_code", _text, "text", "MedDRA preferred term code", None),
    ("PT_NAME", "details.pt_name", _text, "text", "MedDRA preferred term", None),
    ("ONSET", "details.onset", _text, "partialDate", "Onset (may lack day or month)", None),
    ("END", "details.end", _text, "partialDate", "End (may lack day or month)", None),
    ("ONGOING", "details.ongoing", as_bool, "boolean", "Ongoing", None),
    ("SEVERITY", "details.severity", _text, "text", "Severity or CTCAE grade", Severity),
    *(
        (
            f"SERIOUS_{c.value}",
            "details.seriousness",
            _criterion(c),
            "boolean",
            f"Seriousness criterion {label(c.value)} holds",
            None,
        )
        for c in Seriousness
    ),
    ("RELATIONSHIP", "details.relationship", _text, "text", "Causality", Relationship),
    ("ACTION", "details.action_taken", _text, "text", "Action taken", ActionTaken),
    ("OUTCOME", "details.outcome", _text, "text", "Outcome", AdverseEventOutcome),
    ("REPORTED_AT", "reported_at", as_datetime, "datetime", "When reported", None),
    ("RECORDED_AT", "recorded_at", as_datetime, "datetime", "When the site recorded it", None),
    ("SERIOUS_SINCE", "serious_since", as_datetime, "datetime", "Known serious since", None),
    ("REPORT_DUE_AT", "report_due_at", as_datetime, "datetime", "Sponsor report due", None),
    ("SPONSOR_AT", "reported_to_sponsor_at", as_datetime, "datetime", "Sent to sponsor", None),
)
_CM: tuple[Spec, ...] = (
    ("STATUS", "status", _text, "text", "Reported or recorded", MedicationStatus),
    ("BY_PARTICIPANT", "reported_by_participant", as_bool, "boolean", "From the app", None),
    ("NAME", "details.name", _text, "text", "Name as reported (CMTRT)", None),
    ("DRUG_CODE", "details.drug_code", _text, "text", "WHODrug-style code", None),
    ("CODED_NAME", "details.coded_name", _text, "text", "Dictionary name (CMDECOD)", None),
    ("DOSE", "details.dose", as_decimal, "float", "Dose per administration", None),
    ("DOSE_UNIT", "details.dose_unit", _text, "text", "Dose unit (UCUM)", None),
    ("ROUTE", "details.route", _text, "text", "Route of administration", Route),
    ("FREQUENCY", "details.frequency", _text, "text", "Dosing frequency", Frequency),
    ("START", "details.start", _text, "partialDate", "Start (may lack day or month)", None),
    ("END", "details.end", _text, "partialDate", "End (may lack day or month)", None),
    ("ONGOING", "details.ongoing", as_bool, "boolean", "Still taken", None),
    ("INDICATION", "details.indication", _text, "text", "Indication", None),
    ("REPORTED_AT", "reported_at", as_datetime, "datetime", "When reported", None),
    ("RECORDED_AT", "recorded_at", as_datetime, "datetime", "When the site recorded it", None),
)
_DV: tuple[Spec, ...] = (
    ("CATEGORY", "category", _text, "text", "Category", DeviationCategory),
    ("SEVERITY", "severity", _text, "text", "Severity", DeviationSeverity),
    ("TERM", "term", _text, "text", "What deviated (DVTERM)", None),
    ("OCCURRED_ON", "occurred_on", _text, "partialDate", "Day it happened", None),
    ("SOURCE", "source", _text, "text", "Recorded by staff or raised", DeviationSource),
    ("TRIGGER_TYPE", "trigger.record_type", _text, "text", "Record that raised it", None),
    ("TRIGGER_ID", "trigger.record_id", _text, "text", "Its id (its repeat key)", None),
    ("STATUS", "status", _text, "text", "Open or resolved", DeviationStatus),
    ("DETECTED_AT", "detected_at", as_datetime, "datetime", "When detected", None),
    ("RESOLUTION", "resolution", _text, "text", "How it was resolved", None),
    ("RESOLVED_AT", "resolved_at", as_datetime, "datetime", "When resolved", None),
)
_SPECS = {"AE": _AE, "CM": _CM, "DV": _DV}


def _oid(domain: str, suffix: str) -> str:
    return f"I.{domain}.{suffix}"


def _codelist_oid(domain: str, values: type[StrEnum]) -> str:
    return f"CL.{domain}.{values.__name__.upper()}"


# -- metadata ----------------------------------------------------------------------------------


def protocol_event() -> tuple[str, str, str, str, str, list[str]]:
    """The StudyEventDef: (OID, name, repeating, type, description, forms)."""
    return (SE_SAFETY, "Safety", "No", "Common", "", [form for form, _, _ in FORMS])


def form_defs() -> str:
    return "".join(
        f'<FormDef OID="{form}" Name="{name}" Repeating="No">'
        f'<ItemGroupRef ItemGroupOID="{group}" OrderNumber="1" Mandatory="Yes"/></FormDef>\n'
        for form, group, name in FORMS
    )


def item_group_defs() -> str:
    parts = []
    for (_, group, name), (domain, specs) in zip(FORMS, _SPECS.items(), strict=True):
        refs = "".join(
            f'<ItemRef ItemOID="{_oid(domain, s[0])}" OrderNumber="{n}" Mandatory="No"/>'
            for n, s in enumerate(specs, start=1)
        )
        parts.append(
            f'<ItemGroupDef OID="{group}" Name="{name}" Repeating="Yes">{refs}</ItemGroupDef>\n'
        )
    return "".join(parts)


def item_defs() -> str:
    parts = []
    for domain, specs in _SPECS.items():
        for suffix, _, _, data_type, text, values in specs:
            codelist = (
                f'<CodeListRef CodeListOID="{_codelist_oid(domain, values)}"/>' if values else ""
            )
            parts.append(
                f'<ItemDef OID="{_oid(domain, suffix)}" Name="{domain}_{suffix}"'
                f' DataType="{data_type}">{description(plain_text(text, "en"))}{codelist}'
                "</ItemDef>\n"
            )
    return "".join(parts)


def code_lists() -> str:
    return "".join(
        _code_list(_codelist_oid(domain, values), values)
        for domain, specs in _SPECS.items()
        for values in dict.fromkeys(s[5] for s in specs if s[5] is not None)
    )


def _code_list(oid: str, values: Iterable[StrEnum]) -> str:
    entries = "".join(
        f'<CodeListItem CodedValue="{esc(v.value)}" OrderNumber="{n}">'
        f"<Decode>{plain_text(label(v.value), 'en')}</Decode></CodeListItem>"
        for n, v in enumerate(values, start=1)
    )
    return f'<CodeList OID="{oid}" Name="{oid}" DataType="text">{entries}</CodeList>\n'


# -- clinical data -----------------------------------------------------------------------------


def _logged(event: Event, field: str) -> tuple[bool, object]:
    """Whether `event` set `field` (``details.term``: the key of a logged dict), and to what."""
    head, _, key = field.partition(".")
    for change in event.changes:
        if change.field != head or change.personal:
            continue
        if not key:
            return True, change.new
        old = change.old.get(key) if isinstance(change.old, dict) else None
        new = change.new.get(key) if isinstance(change.new, dict) else None
        return (new != old or change.old is None), new
    return False, None


def _current(record: object, field: str) -> object:
    value = record
    for part in field.split("."):
        value = getattr(value, part, None)
    return list(value) if isinstance(value, tuple) else value


def _group(audit: SubjectAudit, group: str, domain: str, entity: str, record: object) -> str:
    record_id: uuid.UUID = getattr(record, "id")  # noqa: B009 - the three record types
    events = audit.events(entity, record_id)
    origin = audit.origin(events)
    ordered = []
    for index, (suffix, field, convert, *_) in enumerate(_SPECS[domain]):
        column = Column(_oid(domain, suffix), field, convert, always_update=False)
        history = [(e, value) for e in events for found, value in [_logged(e, field)] if found]
        current = convert(_current(record, field))
        for seq, tx in enumerate(transactions(history, current, column, origin)):
            ordered.append((tx.event.position if tx.event else 0, index, seq, column.oid, tx))
    items = "".join(audit.item(oid, tx) for *_, oid, tx in sorted(ordered, key=lambda o: o[:3]))
    return (
        f'<ItemGroupData ItemGroupOID="{group}" ItemGroupRepeatKey="{record_id}"'
        f' TransactionType="Insert">{audit.record(origin)}{items}</ItemGroupData>\n'
    )


def safety_event(
    audit: SubjectAudit,
    adverse_events: Sequence[AdverseEvent],
    medications: Sequence[ConcomitantMedication],
    deviations: Sequence[ProtocolDeviation],
) -> tuple[str, int]:
    """The participant's SE.SAFETY StudyEventData and its ItemGroupData count ("" if none)."""
    records: list[Sequence[object]] = [
        [e for e in adverse_events if e.status is AdverseEventStatus.RECORDED],
        [m for m in medications if m.status is MedicationStatus.RECORDED],
        list(deviations),
    ]
    entities = (AdverseEvent.ENTITY, ConcomitantMedication.ENTITY, ProtocolDeviation.ENTITY)
    forms = []
    for (form, group, _), domain, entity, found in zip(
        FORMS, _SPECS, entities, records, strict=True
    ):
        if found:
            groups = "".join(_group(audit, group, domain, entity, r) for r in found)
            forms.append(
                f'<FormData FormOID="{form}" TransactionType="Insert">\n{groups}</FormData>\n'
            )
    count = sum(len(found) for found in records)
    if not count:
        return "", 0
    return (
        f'<StudyEventData StudyEventOID="{SE_SAFETY}" TransactionType="Insert">\n'
        f"{''.join(forms)}</StudyEventData>\n",
        count,
    )
