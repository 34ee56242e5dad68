"""FHIR R4B MedicationStatement: the concomitant medications the site recorded or confirmed
(a participant's report the site has not confirmed is not exported). As for adverse events,
only complete start and end dates go into the period (a partial one stays in SDTM CMSTDTC and
CMENDTC); the dose stays in UCUM."""

from __future__ import annotations

from decimal import Decimal

from domain.medications import ConcomitantMedication, Frequency, MedicationStatus
from infra.exports.fhir.jsontext import (
    UCUM,
    URI_SYSTEM,
    JsonObject,
    concept,
    instant,
    patient,
    uuid_uri,
)
from infra.exports.fhir.study import Study
from infra.exports.model import SubjectInfo

WHODRUG = "urn:hearth:whodrug"  # the WHODrug-style code as recorded (no dictionary shipped)
ROUTE = "urn:hearth:medication-route"
GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
_TIMING = {
    Frequency.QD: "QD",
    Frequency.BID: "BID",
    Frequency.TID: "TID",
    Frequency.QID: "QID",
    Frequency.QOD: "QOD",
}


def exported(medication: ConcomitantMedication) -> bool:
    return medication.status is MedicationStatus.RECORDED


def medication_statement(
    study: Study, info: SubjectInfo, medication: ConcomitantMedication
) -> JsonObject:
    d = medication.details
    code: JsonObject = {"text": d.name}
    if d.drug_code is not None:
        coding: JsonObject = {"system": WHODRUG, "code": d.drug_code}
        if d.coded_name is not None:
            coding["display"] = d.coded_name
        code["coding"] = [coding]
    resource: JsonObject = {
        "resourceType": "MedicationStatement",
        "id": str(medication.id),
        "identifier": [{"system": URI_SYSTEM, "value": uuid_uri(medication.id)}],
        "status": "active" if d.ongoing else ("completed" if d.end else "unknown"),
        "medicationCodeableConcept": code,
        "subject": patient(info.subject_id),
        "informationSource": {
            "display": "Participant" if medication.reported_by_participant else "Site staff"
        },
    }
    if medication.recorded_at is not None:
        resource["dateAsserted"] = instant(medication.recorded_at)
    period: JsonObject = {}
    if d.start is not None and len(d.start) == 10:
        period["start"] = d.start
    if d.end is not None and len(d.end) == 10:
        period["end"] = d.end
    if period:
        resource["effectivePeriod"] = period
    if d.indication is not None:
        resource["reasonCode"] = [{"text": d.indication}]
    dosage = _dosage(medication)
    if dosage:
        resource["dosage"] = [dosage]
    return resource


def _dosage(medication: ConcomitantMedication) -> JsonObject:
    d = medication.details
    dosage: JsonObject = {}
    if d.frequency is Frequency.PRN:
        dosage["asNeededBoolean"] = True
    elif d.frequency in _TIMING:
        dosage["timing"] = {"code": concept(GTS, _TIMING[d.frequency])}
    elif d.frequency is not None:
        dosage["timing"] = {"code": {"text": d.frequency.value}}
    if d.route is not None:
        dosage["route"] = concept(ROUTE, d.route.value, d.route.value.lower())
    if d.dose is not None:
        quantity: JsonObject = {"value": Decimal(d.dose)}
        if d.dose_unit is not None:
            quantity.update({"unit": d.dose_unit, "system": UCUM, "code": d.dose_unit})
        dosage["doseAndRate"] = [{"doseQuantity": quantity}]
    return dosage
