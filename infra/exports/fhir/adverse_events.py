"""FHIR R4B AdverseEvent: the events the site recorded (a participant's unconfirmed report,
still in their own words, is not exported)."""

from __future__ import annotations

from domain.adverse_events import (
    AdverseEvent,
    AdverseEventOutcome,
    AdverseEventStatus,
    Relationship,
    Severity,
)
from infra.exports.fhir.jsontext import URI_SYSTEM, JsonObject, concept, instant, patient, uuid_uri
from infra.exports.fhir.study import Study
from infra.exports.model import SubjectInfo

MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
CAUSALITY = "urn:hearth:adverse-event-relationship"

_SEVERITY = {
    Severity.MILD: "mild",
    Severity.MODERATE: "moderate",
    Severity.SEVERE: "severe",
    Severity.GRADE_1: "mild",
    Severity.GRADE_2: "moderate",
    Severity.GRADE_3: "severe",
    Severity.GRADE_4: "severe",
    Severity.GRADE_5: "severe",
}
_OUTCOME = {
    AdverseEventOutcome.RECOVERED: "resolved",
    AdverseEventOutcome.RECOVERING: "recovering",
    AdverseEventOutcome.NOT_RECOVERED: "ongoing",
    AdverseEventOutcome.RECOVERED_WITH_SEQUELAE: "resolvedWithSequelae",
    AdverseEventOutcome.FATAL: "fatal",
    AdverseEventOutcome.UNKNOWN: "unknown",
}


def exported(event: AdverseEvent) -> bool:
    return event.status is AdverseEventStatus.RECORDED


def adverse_event(study: Study, info: SubjectInfo, event: AdverseEvent) -> JsonObject:
    d = event.details
    code: JsonObject = {"text": d.term}
    codings = [
        {"system": MEDDRA, "code": c, "display": n}
        for c, n in ((d.llt_code, d.llt_name), (d.pt_code, d.pt_name))
        if c is not None
    ]
    if codings:
        code["coding"] = [{k: v for k, v in c.items() if v is not None} for c in codings]
    serious = "serious" if d.seriousness else "non-serious"
    resource: JsonObject = {
        "resourceType": "AdverseEvent",
        "id": str(event.id),
        "identifier": {"system": URI_SYSTEM, "value": uuid_uri(event.id)},
        "actuality": "actual",
        "event": code,
        "subject": patient(info.subject_id),
        "seriousness": concept(SERIOUSNESS, serious, serious.capitalize()),
        "study": [{"reference": f"ResearchStudy/{study.study_id}"}],
    }
    if event.recorded_at is not None:
        resource["recordedDate"] = instant(event.recorded_at)
    if d.onset is not None and len(d.onset) == 10:  # a partial onset stays in SDTM AESTDTC
        resource["date"] = d.onset
    if d.severity is not None:
        resource["severity"] = concept(SEVERITY, _SEVERITY[d.severity])
    if d.outcome is not None:
        resource["outcome"] = concept(OUTCOME, _OUTCOME[d.outcome])
    if d.relationship is not None:
        resource["suspectEntity"] = [
            {
                "instance": {"display": "Study treatment"},
                "causality": [{"assessment": _causality(d.relationship)}],
            }
        ]
    return resource


def _causality(relationship: Relationship) -> JsonObject:
    return concept(CAUSALITY, relationship.value, relationship.value.replace("_", " ").lower())
