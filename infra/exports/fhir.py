"""HL7 FHIR R4 (R4B-valid) bulk data: one NDJSON file per resource type, one resource a line.

Files, each named ``<ResourceType>.ndjson`` and written even when empty:

- ``ResearchStudy``: the study. ``identifier`` is the study code, ``site`` names every site by
  a logical Location reference (its code), ``location`` lists the sites' countries (ISO 3166),
  ``arm`` lists the arms (``name`` = arm code, ``description`` = arm name).
- ``ResearchSubject``: one per participant, id = the pseudonymous subject id. ``individual``
  is a logical Patient reference by identifier (``urn:hearth:subject`` | subject id); no
  Patient resource exists. ``status`` maps ParticipantStatus (SCREENED screening, CONSENTED
  pending-on-study, ENROLLED on-study, COMPLETED off-study, WITHDRAWN withdrawn);
  ``assignedArm`` is the arm code; ``period`` runs from enrolment (a date) to the status
  change when the participant left; ``consent`` points at their latest Consent.
- ``Questionnaire``: one per published version, ``url`` ``urn:hearth:<study>:questionnaire:
  <code>``. Items keep their code as ``linkId``; types map SINGLE/MULTIPLE_CHOICE to choice
  (multiple: ``repeats``) with ``answerOption`` codings in ``urn:hearth:<study>:codes:
  <questionnaire>:<item>``, INTEGER and SCALE to integer, DECIMAL and VAS to decimal, DATE,
  TIME and DATETIME to date, time and dateTime, FREE_TEXT to string (described, never
  answered here). Texts are in the primary language (English when declared, else the first),
  other languages ride along in the standard ``translation`` extension; ranges and units use
  the ``minValue``/``maxValue``/``questionnaire-unit`` extensions.
- ``QuestionnaireResponse``: one per ACCEPTED diary entry (quarantined ones are not analysis
  data). ``questionnaire`` is ``<url>|<version>``; ``status`` completed, or amended once the
  entry was corrected; ``authored`` the device's completion time. Answers are codings,
  integers, decimals, dates, times and dateTimes; free-text answers are never written.
- ``Observation``: one per accepted device reading, ``final``, or ``entered-in-error`` when
  logically deleted (so analyses must filter on status); readings quarantined for review, or
  rejected on review, are not analysis data and are left out (like quarantined entries).
  LOINC codes per kind, the canonical value and UCUM unit as a Quantity (blood pressure: a
  panel with systolic/diastolic components),
  ``effectiveDateTime`` (or ``effectivePeriod`` for step counts) with the device's offset,
  ``issued`` the server's receipt, the device's source id as identifier, and the device as a
  logical reference by identifier. Step counts are in the ``activity`` category, the rest
  ``vital-signs``.
- ``Appointment``: one per visit: booked, fulfilled or cancelled; start and end in the visit's
  time zone; ``appointmentType`` the visit definition, ``serviceType`` the contact mode; the
  participant (logical reference) as an accepted participant. Notes and outcomes stay out.
- ``Consent``: one per signed consent version: active, scope research, category LOINC
  59284-0, ``policy`` ``urn:hearth:<study>:consent:<number>``, the signed language and title
  as ``sourceAttachment``.
- ``Provenance``: one per audit event about the participant, id = the event id. ``target``
  is the exported resource the event is about (a literal reference that resolves within the
  export), or a logical reference by identifier for records that are not exported (reading
  batches, quarantined entries and readings). ``recorded`` is the server time,
  ``activity`` the action (v3 DataOperation where one fits, the action as text), the agent is
  "Participant", "System" or the staff member's role, never a name or an internal id;
  ``reason`` only for a recorded, non-personal reason. Signature events carry the signature
  (ASTM E1762 type).

Every timestamp carries its UTC offset. No participant's internal id, name, free text or
note is written. Resources are serialised compactly (``json.dumps`` separators, UTF-8
unescaped), decimals as exact JSON numbers; Observations, the hot path, are assembled from
pre-serialised fragments.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from json.encoder import encode_basestring
from pathlib import Path
from typing import TypeAlias
from zoneinfo import ZoneInfo

from domain.design import Arm, ContactMode
from domain.devices import ReadingStatus, StoredReading
from domain.diaries import DiaryEntry, EntryStatus
from domain.participants import ParticipantStatus
from domain.questionnaires import Item, ItemType, PublishedQuestionnaire, QuestionnaireVersion
from domain.readings import Measurement, ReadingKind
from domain.signatures import Meaning
from domain.visits import Visit, VisitStatus
from infra.exports.model import (
    Event,
    Meta,
    OutputFile,
    Progress,
    RecordSignature,
    SignedConsent,
    Snapshot,
    Subject,
    SubjectInfo,
    WrittenFile,
)

Json: TypeAlias = "str | int | bool | Decimal | list[Json] | dict[str, Json]"
JsonObject: TypeAlias = "dict[str, Json]"

RESOURCE_TYPES = (
    "ResearchStudy",
    "ResearchSubject",
    "Questionnaire",
    "QuestionnaireResponse",
    "Observation",
    "Appointment",
    "Consent",
    "Provenance",
)

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
SUBJECT_SYSTEM = "urn:hearth:subject"
DEVICE_SYSTEM = "urn:hearth:device"
URI_SYSTEM = "urn:ietf:rfc:3986"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PARTICIPANT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SIGNATURE_SYSTEM = "urn:iso-astm:E1762-95:2013"
COUNTRY_SYSTEM = "urn:iso:std:iso:3166"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
ITEM_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# Not a secret: only makes subject ids that are no valid FHIR ids into stable ones.
_SUBJECT_NAMESPACE = uuid.UUID("6f1c3f0e-8d4b-5a53-9c39-2f0d8f1e4a11")
_READING_BATCH = 500  # Observation lines per write and per progress call

_SUBJECT_STATUS = {
    ParticipantStatus.SCREENED: "screening",
    ParticipantStatus.CONSENTED: "pending-on-study",
    ParticipantStatus.ENROLLED: "on-study",
    ParticipantStatus.COMPLETED: "off-study",
    ParticipantStatus.WITHDRAWN: "withdrawn",
}
_LEFT = frozenset({ParticipantStatus.COMPLETED, ParticipantStatus.WITHDRAWN})
_VISIT_STATUS = {
    VisitStatus.SCHEDULED: "booked",
    VisitStatus.COMPLETED: "fulfilled",
    VisitStatus.CANCELLED: "cancelled",
}
_ITEM_TYPE = {
    ItemType.SINGLE_CHOICE: "choice",
    ItemType.MULTIPLE_CHOICE: "choice",
    ItemType.INTEGER: "integer",
    ItemType.SCALE: "integer",
    ItemType.DECIMAL: "decimal",
    ItemType.VAS: "decimal",
    ItemType.DATE: "date",
    ItemType.TIME: "time",
    ItemType.DATETIME: "dateTime",
    ItemType.FREE_TEXT: "string",
}
_CONTACT_MODE = {
    ContactMode.VIDEO: "Video call",
    ContactMode.PHONE: "Phone call",
    ContactMode.HOME_NURSE: "Home nurse visit",
    ContactMode.SITE: "Visit at the site",
}
_INTEGER_ITEMS = frozenset({ItemType.INTEGER, ItemType.SCALE})
_SLIDERS = frozenset({ItemType.SCALE, ItemType.VAS})
_DATA_OPERATION = {
    "created": ("CREATE", "create"),
    "registered": ("CREATE", "create"),
    "submitted": ("CREATE", "create"),
    "received": ("CREATE", "create"),
    "scheduled": ("CREATE", "create"),
    "updated": ("UPDATE", "revise"),
    "corrected": ("UPDATE", "revise"),
    "rescheduled": ("UPDATE", "revise"),
    "enrolled": ("UPDATE", "revise"),
    "completed": ("UPDATE", "revise"),
    "cancelled": ("UPDATE", "revise"),
    "withdrawn": ("UPDATE", "revise"),
    "erased": ("UPDATE", "revise"),
    "deleted": ("NULLIFY", "nullify"),
}
_SIGNATURE_TYPE = {
    Meaning.AUTHORSHIP: ("1.2.840.10065.1.12.1.1", "Author's Signature"),
    Meaning.REVIEW: ("1.2.840.10065.1.12.1.13", "Review Signature"),
    Meaning.APPROVAL: ("1.2.840.10065.1.12.1.6", "Validation Signature"),
    Meaning.RESPONSIBILITY: ("1.2.840.10065.1.12.1.5", "Verification Signature"),
    Meaning.CONSENT: ("1.2.840.10065.1.12.1.7", "Consent Signature"),
    Meaning.COUNTERSIGNATURE: ("1.2.840.10065.1.12.1.11", "Consent Witness Signature"),
}


# -- serialisation ---------------------------------------------------------------------------


def _string(text: str) -> str:
    """A JSON string as json.dumps(ensure_ascii=False) writes it, without an encoder per call."""
    return encode_basestring(text)


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError("FHIR decimals are finite")
    return format(value, "f")  # exact digits, never an exponent


def dumps(value: Json) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False)`, with Decimals written
    as exact JSON numbers (the standard library cannot write them without going via float)."""
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, list):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    return "{" + ",".join(f"{_string(key)}:{dumps(item)}" for key, item in value.items()) + "}"


def _instant(moment: datetime) -> str:
    """ISO 8601 with the moment's own UTC offset (FHIR offsets are whole minutes)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("FHIR timestamps need a UTC offset")
    if offset.seconds % 60 or offset.microseconds:  # e.g. a historical local mean time
        moment = moment.astimezone(ZoneInfo("UTC"))
    return moment.isoformat()


def _uuid_uri(value: uuid.UUID) -> str:
    return f"urn:uuid:{value}"


# -- shared pieces ---------------------------------------------------------------------------


def _coding(system: str, code: str, display: str | None = None) -> JsonObject:
    found: JsonObject = {"system": system, "code": code}
    if display is not None:
        found["display"] = display
    return found


def _concept(system: str, code: str, display: str | None = None) -> JsonObject:
    return {"coding": [_coding(system, code, display)]}


def _primary(languages: Iterable[str]) -> str:
    tags = list(languages)
    return "en" if "en" in tags else tags[0]


def _translated(name: str, texts: Mapping[str, str], primary: str) -> JsonObject:
    """`name` in the primary language, the others in the translation extension on `_name`."""
    found: JsonObject = {name: texts[primary]}
    others: list[Json] = [
        {
            "url": TRANSLATION,
            "extension": [
                {"url": "lang", "valueCode": tag},
                {"url": "content", "valueString": text},
            ],
        }
        for tag, text in sorted(texts.items())
        if tag != primary
    ]
    if others:
        found[f"_{name}"] = {"extension": others}
    return found


def subject_resource_id(subject_id: str) -> str:
    """The ResearchSubject's id: the subject id itself when it is a valid FHIR id."""
    if _FHIR_ID.fullmatch(subject_id):
        return subject_id
    return str(uuid.uuid5(_SUBJECT_NAMESPACE, subject_id))


def _patient(subject_id: str) -> JsonObject:
    """The participant as a logical reference: no Patient resource is exported."""
    return {"type": "Patient", "identifier": {"system": SUBJECT_SYSTEM, "value": subject_id}}


def _logical(type_: str | None, system: str, value: str, display: str) -> JsonObject:
    found: JsonObject = {}
    if type_ is not None:
        found["type"] = type_
    found["identifier"] = {"system": system, "value": value}
    found["display"] = display
    return found


@dataclass(frozen=True)
class _Form:
    """One questionnaire version as the export refers to it."""

    definition: QuestionnaireVersion
    url: str
    primary: str
    items: Mapping[str, Item]

    @property
    def canonical(self) -> str:
        return f"{self.url}|{self.definition.version}"


class _Study:
    """Names and lookups derived once from the metadata."""

    def __init__(self, meta: Meta) -> None:
        self.meta = meta
        self.code = meta.study.code
        self.study_id = str(meta.study.id)
        self.forms = {
            (q.definition.code, q.definition.version): self._form(q.definition)
            for q in meta.questionnaires
        }
        self.arms: dict[uuid.UUID, Arm] = {arm.id: arm for arm in meta.arms}
        self.visit_definitions = {d.id: d for d in meta.visit_definitions}
        self.consent_titles = {
            (version.number, text.language): text.title
            for version in meta.consent_versions
            for text in version.texts
        }

    def _form(self, definition: QuestionnaireVersion) -> _Form:
        return _Form(
            definition=definition,
            url=f"urn:hearth:{self.code}:questionnaire:{definition.code}",
            primary=_primary(definition.languages),
            items={item.code: item for item in definition.items},
        )

    def choice_system(self, questionnaire: str, item: str) -> str:
        return f"urn:hearth:{self.code}:codes:{questionnaire}:{item}"

    def policy(self, number: int) -> str:
        return f"urn:hearth:{self.code}:consent:{number}"


class _Files:
    """The open NDJSON files, with progress reported in batches."""

    def __init__(self, directory: Path, progress: Progress) -> None:
        self.directory = directory
        self.outputs = {name: OutputFile(directory / f"{name}.ndjson") for name in RESOURCE_TYPES}
        self._progress = progress
        self._pending = 0

    def resource(self, resource: JsonObject) -> None:
        name = resource["resourceType"]
        assert isinstance(name, str)
        self.lines(name, [dumps(resource)])

    def lines(self, name: str, lines: list[str]) -> None:
        if lines:
            self.outputs[name].write("\n".join(lines) + "\n", rows=len(lines))
            self._pending += len(lines)
            if self._pending >= _READING_BATCH:
                self.flush()

    def flush(self) -> None:
        if self._pending:
            self._progress(self._pending)
            self._pending = 0

    def written(self) -> list[WrittenFile]:
        return [self.outputs[name].written(self.directory) for name in RESOURCE_TYPES]


# -- the writer ------------------------------------------------------------------------------


async def write_fhir(snapshot: Snapshot, directory: Path, progress: Progress) -> list[WrittenFile]:
    """Write the snapshot as FHIR NDJSON files into `directory`; one resource type per file."""
    study = _Study(snapshot.meta)
    files = _Files(directory, progress)
    observations = _Observations()
    with ExitStack() as stack:
        for output in files.outputs.values():
            stack.enter_context(output)
        files.resource(_research_study(study))
        for published in study.meta.questionnaires:
            files.resource(_questionnaire(study, published))
        async for subject in snapshot.subjects():
            _write_subject_records(study, files, subject)
            batch: list[str] = []
            withheld: set[uuid.UUID] = set()
            async for stored in subject.readings():
                if stored.status is not ReadingStatus.ACCEPTED:  # under or failed review
                    withheld.add(stored.id)
                    continue
                batch.append(observations.line(subject.info.subject_id, stored))
                if len(batch) >= _READING_BATCH:
                    files.lines("Observation", batch)
                    batch = []
            files.lines("Observation", batch)
            targets = _Targets(subject, withheld)
            for event in subject.events:
                files.resource(_provenance(targets, event))
        files.flush()
    return files.written()


def _write_subject_records(study: _Study, files: _Files, subject: Subject) -> None:
    files.resource(_research_subject(study, subject))
    for consent in subject.consents:
        files.resource(_consent(study, subject.info, consent))
    for visit in subject.visits:
        files.resource(_appointment(study, subject.info, visit))
    for entry in subject.entries:
        if entry.status is EntryStatus.ACCEPTED:
            files.resource(_questionnaire_response(study, subject.info, entry))


# -- study, subjects, questionnaires ---------------------------------------------------------


def _research_study(study: _Study) -> JsonObject:
    meta = study.meta
    resource: JsonObject = {
        "resourceType": "ResearchStudy",
        "id": study.study_id,
        "identifier": [{"system": "urn:hearth:study", "value": study.code}],
        "title": meta.study.title,
        "status": "active",
    }
    countries = sorted({site.country for site in meta.sites})
    if countries:
        resource["location"] = [_concept(COUNTRY_SYSTEM, country) for country in countries]
    if meta.sites:
        resource["site"] = [
            _logical("Location", f"urn:hearth:{study.code}:site", site.code, site.name)
            for site in sorted(meta.sites, key=lambda site: site.code)
        ]
    if meta.arms:
        resource["arm"] = [
            {"name": arm.code, "description": arm.name}
            for arm in sorted(meta.arms, key=lambda arm: arm.code)
        ]
    return resource


def _research_subject(study: _Study, subject: Subject) -> JsonObject:
    info = subject.info
    resource: JsonObject = {
        "resourceType": "ResearchSubject",
        "id": subject_resource_id(info.subject_id),
        "identifier": [{"system": SUBJECT_SYSTEM, "value": info.subject_id}],
        "status": _SUBJECT_STATUS[info.status],
    }
    period: JsonObject = {}
    if info.enrolled_on is not None:
        period["start"] = info.enrolled_on.isoformat()
    if info.status in _LEFT:
        period["end"] = _instant(info.status_changed_at)
    if period:
        resource["period"] = period
    resource["study"] = {"reference": f"ResearchStudy/{study.study_id}"}
    resource["individual"] = _patient(info.subject_id)
    arm = study.arms.get(info.arm_id) if info.arm_id is not None else None
    if arm is not None:
        resource["assignedArm"] = arm.code
    if subject.consents:
        resource["consent"] = {"reference": f"Consent/{subject.consents[-1].id}"}
    return resource


def _questionnaire(study: _Study, published: PublishedQuestionnaire) -> JsonObject:
    definition = published.definition
    form = study.forms[(definition.code, definition.version)]
    resource: JsonObject = {
        "resourceType": "Questionnaire",
        "id": str(published.id),
        "language": form.primary,
        "url": form.url,
        "version": str(definition.version),
        "name": definition.code,
        **_translated("title", definition.title, form.primary),
        "status": "active",
        "subjectType": ["Patient"],
        "date": _instant(published.published_at),
        "item": [_questionnaire_item(study, form, item) for item in definition.items],
    }
    return resource


def _questionnaire_item(study: _Study, form: _Form, item: Item) -> JsonObject:
    found: JsonObject = {
        "linkId": item.code,
        "code": [
            _coding(f"urn:hearth:{study.code}:items:{form.definition.code}", item.code)
            | {"display": item.test_label}
        ],
        **_translated("text", item.texts, form.primary),
        "type": _ITEM_TYPE[item.type],
        "required": item.required,
    }
    extensions = _item_extensions(item)
    if extensions:
        found = {"extension": extensions, **found}
    if item.type is ItemType.MULTIPLE_CHOICE:
        found["repeats"] = True
    if item.type is ItemType.FREE_TEXT and item.max_length is not None:
        found["maxLength"] = item.max_length
    if item.choices:
        system = study.choice_system(form.definition.code, item.code)
        found["answerOption"] = [
            {
                "valueCoding": {
                    "system": system,
                    "code": choice.code,
                    **_translated("display", choice.texts, form.primary),
                }
            }
            for choice in item.choices
        ]
    return found


def _item_extensions(item: Item) -> list[Json]:
    value_key = "valueInteger" if item.type in _INTEGER_ITEMS else "valueDecimal"
    extensions: list[Json] = []
    if item.type in _SLIDERS:
        extensions.append(
            {"url": ITEM_CONTROL, "valueCodeableConcept": _concept(ITEM_CONTROL_SYSTEM, "slider")}
        )
    for url, bound in ((MIN_VALUE, item.minimum), (MAX_VALUE, item.maximum)):
        if bound is not None:
            value: Json = int(bound) if value_key == "valueInteger" else Decimal(bound)
            extensions.append({"url": url, value_key: value})
    if item.unit is not None:
        extensions.append({"url": ITEM_UNIT, "valueCoding": _coding(UCUM, item.unit, item.unit)})
    return extensions


# -- diaries ---------------------------------------------------------------------------------


def _questionnaire_response(study: _Study, info: SubjectInfo, entry: DiaryEntry) -> JsonObject:
    form = study.forms.get((entry.questionnaire_code, entry.questionnaire_version))
    if form is None:
        raise ValueError(
            f"diary entry {entry.id} names questionnaire {entry.questionnaire_code} "
            f"version {entry.questionnaire_version}, which the snapshot does not hold"
        )
    items: list[Json] = []
    for item in form.definition.items:
        raw = entry.answers.get(item.code)
        if raw is None or item.is_free_text:
            continue
        answers = _answers(study, form, item, raw)
        if answers:
            items.append({"linkId": item.code, "answer": answers})
    resource: JsonObject = {
        "resourceType": "QuestionnaireResponse",
        "id": str(entry.id),
        "identifier": {"system": URI_SYSTEM, "value": _uuid_uri(entry.id)},
        "questionnaire": form.canonical,
        "status": "amended" if entry.version > 1 else "completed",
        "subject": _patient(info.subject_id),
        "authored": _instant(entry.completed_at),
    }
    if items:
        resource["item"] = items
    return resource


def _answers(study: _Study, form: _Form, item: Item, raw: object) -> list[Json]:
    """The FHIR answers to one item; the plain value is trusted to fit the item's type."""
    match item.type:
        case ItemType.SINGLE_CHOICE | ItemType.MULTIPLE_CHOICE:
            codes = [raw] if isinstance(raw, str) else list(_strings(raw))
            return [{"valueCoding": _choice(study, form, item, code)} for code in codes]
        case ItemType.INTEGER | ItemType.SCALE:
            return [{"valueInteger": int(str(raw))}]
        case ItemType.DECIMAL | ItemType.VAS:
            return [{"valueDecimal": Decimal(str(raw))}]
        case ItemType.DATE:
            return [{"valueDate": date.fromisoformat(str(raw)).isoformat()}]
        case ItemType.TIME:
            return [{"valueTime": time.fromisoformat(str(raw)).isoformat()}]  # seconds needed
        case ItemType.DATETIME:
            return [{"valueDateTime": _instant(datetime.fromisoformat(str(raw)))}]
        case _:
            return []  # free text: never exported


def _strings(raw: object) -> Iterable[str]:
    if not isinstance(raw, list | tuple):
        raise ValueError("a multiple-choice answer is a list of choice codes")
    return (str(code) for code in raw)


def _choice(study: _Study, form: _Form, item: Item, code: str) -> JsonObject:
    found: JsonObject = {"system": study.choice_system(form.definition.code, item.code)}
    found["code"] = code
    for choice in item.choices:
        if choice.code == code:
            found["display"] = choice.texts[form.primary]
    return found


# -- visits and consent ----------------------------------------------------------------------


def _appointment(study: _Study, info: SubjectInfo, visit: Visit) -> JsonObject:
    start = visit.starts_at.astimezone(ZoneInfo(visit.timezone))
    resource: JsonObject = {
        "resourceType": "Appointment",
        "id": str(visit.id),
        "identifier": [{"system": URI_SYSTEM, "value": _uuid_uri(visit.id)}],
        "status": _VISIT_STATUS[visit.status],
        "serviceType": [
            _concept(
                f"urn:hearth:{study.code}:contact-mode",
                visit.mode.value,
                _CONTACT_MODE.get(visit.mode, visit.mode.value),
            )
        ],
    }
    definition = study.visit_definitions.get(visit.definition_id)
    if definition is not None:
        resource["appointmentType"] = _concept(
            f"urn:hearth:{study.code}:visits", definition.code, definition.name
        )
        resource["description"] = definition.name
    resource |= {
        "start": _instant(start),
        "end": _instant(start + timedelta(minutes=visit.duration_minutes)),
        "minutesDuration": visit.duration_minutes,
        "participant": [{"actor": _patient(info.subject_id), "status": "accepted"}],
    }
    return resource


def _consent(study: _Study, info: SubjectInfo, signed: SignedConsent) -> JsonObject:
    attachment: JsonObject = {"language": signed.language, "url": study.policy(signed.number)}
    title = study.consent_titles.get((signed.number, signed.language))
    if title is not None:
        attachment["title"] = title
    return {
        "resourceType": "Consent",
        "id": str(signed.id),
        "identifier": [{"system": URI_SYSTEM, "value": _uuid_uri(signed.id)}],
        "status": "active",
        "scope": _concept(CONSENT_SCOPE_SYSTEM, "research", "Research"),
        "category": [_concept(LOINC, "59284-0", "Patient Consent")],
        "patient": _patient(info.subject_id),
        "dateTime": _instant(signed.signed_at),
        "sourceAttachment": attachment,
        "policy": [{"uri": study.policy(signed.number)}],
    }


# -- readings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """What is the same for every Observation of one kind, already serialised."""

    head: str  # "category" and "code" members
    components: tuple[tuple[str, str], ...]  # (component name, serialised code); "" = value


def _kind(category: str, code: str, display: str, *parts: tuple[str, str, str]) -> _Kind:
    head = (
        f'"category":{dumps([_concept(CATEGORY_SYSTEM, category)])},'
        f'"code":{dumps(_concept(LOINC, code, display))}'
    )
    if not parts:
        raise ValueError("a kind has at least one component")
    components = tuple(
        (name, dumps(_concept(LOINC, part_code, part_display)) if len(parts) > 1 else "")
        for name, part_code, part_display in parts
    )
    return _Kind(head, components)


_KINDS = {
    ReadingKind.HEART_RATE: _kind(
        "vital-signs", "8867-4", "Heart rate", ("heart_rate", "8867-4", "Heart rate")
    ),
    ReadingKind.BLOOD_PRESSURE: _kind(
        "vital-signs",
        "85354-9",
        "Blood pressure panel with all children optional",
        ("systolic", "8480-6", "Systolic blood pressure"),
        ("diastolic", "8462-4", "Diastolic blood pressure"),
    ),
    ReadingKind.STEP_COUNT: _kind(
        "activity",
        "55423-8",
        "Number of steps in unspecified time Pedometer",
        ("step_count", "55423-8", "Number of steps"),
    ),
    ReadingKind.BODY_WEIGHT: _kind(
        "vital-signs", "29463-7", "Body weight", ("body_weight", "29463-7", "Body weight")
    ),
    ReadingKind.BLOOD_GLUCOSE: _kind(
        "vital-signs",
        "15074-8",
        "Glucose [Moles/volume] in Blood",
        ("blood_glucose", "15074-8", "Glucose"),
    ),
    ReadingKind.OXYGEN_SATURATION: _kind(
        "vital-signs",
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
        ("oxygen_saturation", "59408-5", "Oxygen saturation"),
    ),
    ReadingKind.BODY_TEMPERATURE: _kind(
        "vital-signs",
        "8310-5",
        "Body temperature",
        ("body_temperature", "8310-5", "Body temperature"),
    ),
}


class _Observations:
    """Observation lines built from cached fragments: the hot path of the export."""

    def __init__(self) -> None:
        self._subjects: dict[str, str] = {}
        self._units: dict[str, str] = {}
        self._devices: dict[uuid.UUID, tuple[str, str]] = {}

    def line(self, subject_id: str, stored: StoredReading) -> str:
        reading = stored.reading
        kind = _KINDS[reading.kind]
        start = _instant(reading.effective_start)
        if reading.effective_end is None:
            effective = f'"effectiveDateTime":"{start}"'
        else:
            effective = (
                f'"effectivePeriod":{{"start":"{start}","end":"{_instant(reading.effective_end)}"}}'
            )
        source_system, device = self._device(stored.device_id)
        status = "final" if stored.deleted_at is None else "entered-in-error"
        return (
            f'{{"resourceType":"Observation","id":"{stored.id}",'
            f'"identifier":[{{{source_system},"value":{_string(reading.source_id)}}}],'
            f'"status":"{status}",{kind.head},"subject":{self._subject(subject_id)},{effective},'
            f'"issued":"{_instant(stored.received_at)}",{self._values(kind, reading.components)},'
            f'"device":{device}}}'
        )

    def _device(self, device_id: uuid.UUID) -> tuple[str, str]:
        """The source-id system of a device and the device's logical reference."""
        found = self._devices.get(device_id)
        if found is None:
            if len(self._devices) > 10_000:  # bounded, whatever the study
                self._devices.clear()
            found = self._devices[device_id] = (
                f'"system":"{DEVICE_SYSTEM}:{device_id}"',
                dumps({"identifier": {"system": DEVICE_SYSTEM, "value": str(device_id)}}),
            )
        return found

    def _values(self, kind: _Kind, components: Mapping[str, Measurement]) -> str:
        if len(kind.components) == 1:
            return f'"valueQuantity":{self._quantity(components[kind.components[0][0]])}'
        parts = ",".join(
            f'{{"code":{code},"valueQuantity":{self._quantity(components[name])}}}'
            for name, code in kind.components
        )
        return f'"component":[{parts}]'

    def _quantity(self, measurement: Measurement) -> str:
        unit = self._units.get(measurement.unit)
        if unit is None:
            text = _string(measurement.unit)
            unit = self._units[measurement.unit] = f'"unit":{text},"system":"{UCUM}","code":{text}'
        return f'{{"value":{_number(measurement.value)},{unit}}}'

    def _subject(self, subject_id: str) -> str:
        found = self._subjects.get(subject_id)
        if found is None:
            self._subjects.clear()  # subjects come one after the other: keep one
            found = self._subjects[subject_id] = dumps(_patient(subject_id))
        return found


# -- audit trail -----------------------------------------------------------------------------


class _Targets:
    """Which exported resource each of one subject's events is about."""

    def __init__(self, subject: Subject, withheld: set[uuid.UUID] | None = None) -> None:
        info = subject.info
        self._withheld = withheld or set()  # readings not exported (quarantined, rejected)
        self._participant = info.id
        self._research_subject = f"ResearchSubject/{subject_resource_id(info.subject_id)}"
        self._exported: dict[tuple[str, uuid.UUID], str] = {}
        for visit in subject.visits:
            self._exported["Visit", visit.id] = f"Appointment/{visit.id}"
        for entry in subject.entries:
            if entry.status is EntryStatus.ACCEPTED:
                self._exported["DiaryEntry", entry.id] = f"QuestionnaireResponse/{entry.id}"
        for consent in subject.consents:
            self._exported["Consent", consent.id] = f"Consent/{consent.id}"
        self.signatures = {signature.id: signature for signature in subject.signatures}

    def reference(self, entity_type: str, entity_id: uuid.UUID) -> JsonObject:
        if entity_type == "Participant" or entity_id == self._participant:
            return {"reference": self._research_subject}
        if entity_type == "Reading" and entity_id not in self._withheld:
            return {"reference": f"Observation/{entity_id}"}  # deleted ones are exported too
        if entity_type == "Signature" and entity_id in self.signatures:
            signed = self.signatures[entity_id]
            return self.reference(signed.record_type, signed.record_id)
        found = self._exported.get((entity_type, entity_id))
        if found is not None:
            return {"reference": found}
        system = f"urn:hearth:{_kebab(entity_type)}"
        return _logical(_LOGICAL_TYPES.get(entity_type), system, _uuid_uri(entity_id), entity_type)


_LOGICAL_TYPES = {
    "DiaryEntry": "QuestionnaireResponse",
    "Visit": "Appointment",
    "Consent": "Consent",
    "Reading": "Observation",
}


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _provenance(targets: _Targets, event: Event) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "Provenance",
        "id": str(event.id),
        "target": [targets.reference(event.entity_type, event.entity_id)],
    }
    if event.device_time is not None:
        resource["occurredDateTime"] = _instant(event.device_time)
    resource["recorded"] = _instant(event.recorded_at)
    if event.reason:
        resource["reason"] = [{"text": event.reason}]
    resource["activity"] = _activity(event.action)
    resource["agent"] = [_agent(event)]
    signature = (
        targets.signatures.get(event.entity_id) if event.entity_type == "Signature" else None
    )
    if signature is not None:
        resource["signature"] = [_signature(event, signature)]
    return resource


def _activity(action: str) -> JsonObject:
    operation = _DATA_OPERATION.get(action)
    if operation is None:
        return {"text": action}
    code, display = operation
    return {"coding": [_coding(DATA_OPERATION_SYSTEM, code, display)], "text": action}


def _who(event: Event) -> str:
    if event.actor_kind == "PARTICIPANT":
        return "Participant"
    if event.actor_kind == "SYSTEM":
        return "System"
    return event.actor_role.replace("_", " ").capitalize()


def _agent(event: Event) -> JsonObject:
    kind = "performer" if event.actor_kind == "SYSTEM" else "author"
    return {"type": _concept(PARTICIPANT_TYPE_SYSTEM, kind), "who": {"display": _who(event)}}


def _signature_type(meaning: str) -> tuple[str, str]:
    try:
        return _SIGNATURE_TYPE[Meaning(meaning)]
    except ValueError:  # a meaning added later: at least an author's signature
        return _SIGNATURE_TYPE[Meaning.AUTHORSHIP]


def _signature(event: Event, signature: RecordSignature) -> JsonObject:
    code, display = _signature_type(signature.meaning)
    who = "Participant" if signature.signer is None else _who(event)
    return {
        "type": [_coding(SIGNATURE_SYSTEM, code, display)],
        "when": _instant(signature.signed_at),
        "who": {"display": who},
    }
