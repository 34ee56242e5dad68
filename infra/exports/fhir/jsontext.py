"""FHIR JSON text: compact serialisation with exact decimals, timestamps with offsets, and
the small shapes every resource uses (codings, references, translations)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import TypeAlias
from zoneinfo import ZoneInfo

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
    "AdverseEvent",
    "MedicationStatement",
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
# -- serialisation ---------------------------------------------------------------------------


def string(text: str) -> str:
    """A JSON string as json.dumps(ensure_ascii=False) writes it, without an encoder per call."""
    return encode_basestring(text)


def number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError("FHIR decimals are finite")
    return format(value, "f")  # exact digits, never an exponent


def dumps(value: Json) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False)`, with Decimals written
    as exact JSON numbers (the standard library cannot write them without going via float)."""
    if isinstance(value, str):
        return string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, list):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    return "{" + ",".join(f"{string(key)}:{dumps(item)}" for key, item in value.items()) + "}"


def instant(moment: datetime) -> str:
    """ISO 8601 with the moment's own UTC offset (FHIR offsets are whole minutes)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("FHIR timestamps need a UTC offset")
    if offset.seconds % 60 or offset.microseconds:  # e.g. a historical local mean time
        moment = moment.astimezone(ZoneInfo("UTC"))
    return moment.isoformat()


def uuid_uri(value: uuid.UUID) -> str:
    return f"urn:uuid:{value}"


# -- shared pieces ---------------------------------------------------------------------------


def coding(system: str, code: str, display: str | None = None) -> JsonObject:
    found: JsonObject = {"system": system, "code": code}
    if display is not None:
        found["display"] = display
    return found


def concept(system: str, code: str, display: str | None = None) -> JsonObject:
    return {"coding": [coding(system, code, display)]}


def primary(languages: Iterable[str]) -> str:
    tags = list(languages)
    return "en" if "en" in tags else tags[0]


def translated(name: str, texts: Mapping[str, str], primary: str) -> JsonObject:
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


def patient(subject_id: str) -> JsonObject:
    """The participant as a logical reference: no Patient resource is exported."""
    return {"type": "Patient", "identifier": {"system": SUBJECT_SYSTEM, "value": subject_id}}


def logical(type_: str | None, system: str, value: str, display: str) -> JsonObject:
    found: JsonObject = {}
    if type_ is not None:
        found["type"] = type_
    found["identifier"] = {"system": system, "value": value}
    found["display"] = display
    return found
