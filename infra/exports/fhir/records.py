"""A subject's records: QuestionnaireResponse, Appointment and Consent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.design import ContactMode
from domain.diaries import DiaryEntry
from domain.questionnaires import Item, ItemType
from domain.visits import Visit, VisitStatus
from infra.exports.fhir.jsontext import (
    CONSENT_SCOPE_SYSTEM,
    LOINC,
    URI_SYSTEM,
    Json,
    JsonObject,
    concept,
    instant,
    patient,
    uuid_uri,
)
from infra.exports.fhir.study import Form, Study
from infra.exports.model import SignedConsent, SubjectInfo

_VISIT_STATUS = {
    VisitStatus.SCHEDULED: "booked",
    VisitStatus.COMPLETED: "fulfilled",
    VisitStatus.CANCELLED: "cancelled",
}
_CONTACT_MODE = {
    ContactMode.VIDEO: "Video call",
    ContactMode.PHONE: "Phone call",
    ContactMode.HOME_NURSE: "Home nurse visit",
    ContactMode.SITE: "Visit at the site",
}
# -- diaries ---------------------------------------------------------------------------------


def questionnaire_response(study: Study, info: SubjectInfo, entry: DiaryEntry) -> JsonObject:
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
        "identifier": {"system": URI_SYSTEM, "value": uuid_uri(entry.id)},
        "questionnaire": form.canonical,
        "status": "amended" if entry.version > 1 else "completed",
        "subject": patient(info.subject_id),
        "authored": instant(entry.completed_at),
    }
    if items:
        resource["item"] = items
    return resource


def _answers(study: Study, form: Form, item: Item, raw: object) -> list[Json]:
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
            return [{"valueDateTime": instant(datetime.fromisoformat(str(raw)))}]
        case _:
            return []  # free text: never exported


def _strings(raw: object) -> Iterable[str]:
    if not isinstance(raw, list | tuple):
        raise ValueError("a multiple-choice answer is a list of choice codes")
    return (str(code) for code in raw)


def _choice(study: Study, form: Form, item: Item, code: str) -> JsonObject:
    found: JsonObject = {"system": study.choice_system(form.definition.code, item.code)}
    found["code"] = code
    for choice in item.choices:
        if choice.code == code:
            found["display"] = choice.texts[form.primary]
    return found


# -- visits and consent ----------------------------------------------------------------------


def appointment(study: Study, info: SubjectInfo, visit: Visit) -> JsonObject:
    start = visit.starts_at.astimezone(ZoneInfo(visit.timezone))
    resource: JsonObject = {
        "resourceType": "Appointment",
        "id": str(visit.id),
        "identifier": [{"system": URI_SYSTEM, "value": uuid_uri(visit.id)}],
        "status": _VISIT_STATUS[visit.status],
        "serviceType": [
            concept(
                f"urn:hearth:{study.code}:contact-mode",
                visit.mode.value,
                _CONTACT_MODE.get(visit.mode, visit.mode.value),
            )
        ],
    }
    definition = study.visit_definitions.get(visit.definition_id)
    if definition is not None:
        resource["appointmentType"] = concept(
            f"urn:hearth:{study.code}:visits", definition.code, definition.name
        )
        resource["description"] = definition.name
    resource |= {
        "start": instant(start),
        "end": instant(start + timedelta(minutes=visit.duration_minutes)),
        "minutesDuration": visit.duration_minutes,
        "participant": [{"actor": patient(info.subject_id), "status": "accepted"}],
    }
    return resource


def consent(study: Study, info: SubjectInfo, signed: SignedConsent) -> JsonObject:
    attachment: JsonObject = {"language": signed.language, "url": study.policy(signed.number)}
    title = study.consent_titles.get((signed.number, signed.language))
    if title is not None:
        attachment["title"] = title
    return {
        "resourceType": "Consent",
        "id": str(signed.id),
        "identifier": [{"system": URI_SYSTEM, "value": uuid_uri(signed.id)}],
        "status": "active",
        "scope": concept(CONSENT_SCOPE_SYSTEM, "research", "Research"),
        "category": [concept(LOINC, "59284-0", "Patient Consent")],
        "patient": patient(info.subject_id),
        "dateTime": instant(signed.signed_at),
        "sourceAttachment": attachment,
        "policy": [{"uri": study.policy(signed.number)}],
    }
