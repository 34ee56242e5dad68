"""The audit trail: one Provenance per event, with the signature when an event signed."""

from __future__ import annotations

import re
import uuid

from domain.diaries import EntryStatus
from domain.signatures import Meaning
from infra.exports.fhir.jsontext import (
    DATA_OPERATION_SYSTEM,
    PARTICIPANT_TYPE_SYSTEM,
    SIGNATURE_SYSTEM,
    Json,
    JsonObject,
    coding,
    concept,
    instant,
    logical,
    subject_resource_id,
    uuid_uri,
)
from infra.exports.model import Event, RecordSignature, Subject

REASON_SYSTEM = "urn:hearth:reason-for-change"
ACTIVITY_SYSTEM = "urn:hearth:activity"
STAFF_SYSTEM = "urn:hearth:staff-user"
PARTICIPANT_APP_SYSTEM = "urn:hearth:participant-app"
SYSTEM_AGENT_SYSTEM = "urn:hearth:system"

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


# -- audit trail -----------------------------------------------------------------------------


class Targets:
    """Which exported resource each of one subject's events is about."""

    def __init__(self, subject: Subject, withheld: set[str] | None = None) -> None:
        info = subject.info
        self._withheld = withheld or set()  # readings not exported (quarantined, rejected)
        self._participant = info.id
        self.subject_id = info.subject_id  # pseudonymous: names the participant's app
        self.research_subject = f"ResearchSubject/{subject_resource_id(info.subject_id)}"
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
            return {"reference": self.research_subject}
        if entity_type == "Reading" and str(entity_id) not in self._withheld:
            return {"reference": f"Observation/{entity_id}"}  # deleted ones are exported too
        if entity_type == "Signature" and entity_id in self.signatures:
            signed = self.signatures[entity_id]
            return self.reference(signed.record_type, signed.record_id)
        found = self._exported.get((entity_type, entity_id))
        if found is not None:
            return {"reference": found}
        system = f"urn:hearth:{_kebab(entity_type)}"
        return logical(_LOGICAL_TYPES.get(entity_type), system, uuid_uri(entity_id), entity_type)


_LOGICAL_TYPES = {
    "DiaryEntry": "QuestionnaireResponse",
    "Visit": "Appointment",
    "Consent": "Consent",
    "Reading": "Observation",
}


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def provenance(targets: Targets, event: Event) -> JsonObject:
    resource: JsonObject = {
        "resourceType": "Provenance",
        "id": str(event.id),
        "target": [targets.reference(event.entity_type, event.entity_id)],
    }
    if event.device_time is not None:
        resource["occurredDateTime"] = instant(event.device_time)
    resource["recorded"] = instant(event.recorded_at)
    reasons: list[Json] = []
    if event.reason_code:
        reasons.append(concept(REASON_SYSTEM, event.reason_code, _display(event.reason_code)))
    if event.reason:
        reasons.append({"text": event.reason})
    if reasons:
        resource["reason"] = reasons
    resource["activity"] = _activity(event.action)
    resource["agent"] = [_agent(event, targets.subject_id)]
    signature = (
        targets.signatures.get(event.entity_id) if event.entity_type == "Signature" else None
    )
    if signature is not None:
        resource["signature"] = [_signature(event, signature)]
    return resource


def _display(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _activity(action: str) -> JsonObject:
    """Every activity coded: Hearth's own action code, and the HL7 data operation when one
    fits."""
    own = coding(ACTIVITY_SYSTEM, action, _display(action))
    operation = _DATA_OPERATION.get(action)
    if operation is None:
        return {"coding": [own], "text": action}
    code, display = operation
    return {"coding": [coding(DATA_OPERATION_SYSTEM, code, display), own], "text": action}


def _who(event: Event) -> str:
    if event.actor_kind == "PARTICIPANT":
        return "Participant"
    if event.actor_kind == "SYSTEM":
        return "System"
    return event.actor_role.replace("_", " ").capitalize()


def _agent(event: Event, subject_id: str) -> JsonObject:
    """Who acted, by a pseudonymous identifier as well as by role: a staff user's account id,
    the participant's app by the subject's pseudonymous id, or Hearth itself."""
    kind = "performer" if event.actor_kind == "SYSTEM" else "author"
    if event.actor_kind == "PARTICIPANT":
        identifier = {"system": PARTICIPANT_APP_SYSTEM, "value": subject_id}
    elif event.actor_kind == "SYSTEM" or event.actor_id is None:
        identifier = {"system": SYSTEM_AGENT_SYSTEM, "value": "hearth"}
    else:
        identifier = {"system": STAFF_SYSTEM, "value": uuid_uri(event.actor_id)}
    who: JsonObject = {"identifier": dict(identifier), "display": _who(event)}
    return {"type": concept(PARTICIPANT_TYPE_SYSTEM, kind), "who": who}


def _signature_type(meaning: str) -> tuple[str, str]:
    try:
        return _SIGNATURE_TYPE[Meaning(meaning)]
    except ValueError:  # a meaning added later: at least an author's signature
        return _SIGNATURE_TYPE[Meaning.AUTHORSHIP]


def _signature(event: Event, signature: RecordSignature) -> JsonObject:
    code, display = _signature_type(signature.meaning)
    who = "Participant" if signature.signer is None else _who(event)
    return {
        "type": [coding(SIGNATURE_SYSTEM, code, display)],
        "when": instant(signature.signed_at),
        "who": {"display": who},
    }
