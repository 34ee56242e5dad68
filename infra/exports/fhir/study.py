"""The study-level resources (ResearchStudy, Questionnaire) and ResearchSubject."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.design import Arm
from domain.participants import ParticipantStatus
from domain.questionnaires import Item, ItemType, PublishedQuestionnaire, QuestionnaireVersion
from infra.exports.fhir.jsontext import (
    COUNTRY_SYSTEM,
    ITEM_CONTROL,
    ITEM_CONTROL_SYSTEM,
    ITEM_UNIT,
    MAX_VALUE,
    MIN_VALUE,
    SUBJECT_SYSTEM,
    UCUM,
    Json,
    JsonObject,
    coding,
    concept,
    instant,
    logical,
    patient,
    primary,
    subject_resource_id,
    translated,
)
from infra.exports.model import Meta, Subject

_SUBJECT_STATUS = {
    ParticipantStatus.SCREENED: "screening",
    ParticipantStatus.CONSENTED: "pending-on-study",
    ParticipantStatus.ENROLLED: "on-study",
    ParticipantStatus.COMPLETED: "off-study",
    ParticipantStatus.WITHDRAWN: "withdrawn",
}
LEFT = frozenset({ParticipantStatus.COMPLETED, ParticipantStatus.WITHDRAWN})
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
_INTEGER_ITEMS = frozenset({ItemType.INTEGER, ItemType.SCALE})
_SLIDERS = frozenset({ItemType.SCALE, ItemType.VAS})


@dataclass(frozen=True)
class Form:
    """One questionnaire version as the export refers to it."""

    definition: QuestionnaireVersion
    url: str
    primary: str
    items: Mapping[str, Item]

    @property
    def canonical(self) -> str:
        return f"{self.url}|{self.definition.version}"


class Study:
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

    def _form(self, definition: QuestionnaireVersion) -> Form:
        return Form(
            definition=definition,
            url=f"urn:hearth:{self.code}:questionnaire:{definition.code}",
            primary=primary(definition.languages),
            items={item.code: item for item in definition.items},
        )

    def choice_system(self, questionnaire: str, item: str) -> str:
        return f"urn:hearth:{self.code}:codes:{questionnaire}:{item}"

    def policy(self, number: int) -> str:
        return f"urn:hearth:{self.code}:consent:{number}"


# -- study, subjects, questionnaires ---------------------------------------------------------


def research_study(study: Study) -> JsonObject:
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
        resource["location"] = [concept(COUNTRY_SYSTEM, country) for country in countries]
    if meta.sites:
        resource["site"] = [
            logical("Location", f"urn:hearth:{study.code}:site", site.code, site.name)
            for site in sorted(meta.sites, key=lambda site: site.code)
        ]
    if meta.arms:
        resource["arm"] = [
            {"name": arm.code, "description": arm.name}
            for arm in sorted(meta.arms, key=lambda arm: arm.code)
        ]
    return resource


def research_subject(study: Study, subject: Subject) -> JsonObject:
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
    if info.status in LEFT:
        period["end"] = instant(info.status_changed_at)
    if period:
        resource["period"] = period
    resource["study"] = {"reference": f"ResearchStudy/{study.study_id}"}
    resource["individual"] = patient(info.subject_id)
    arm = study.arms.get(info.arm_id) if info.arm_id is not None else None
    if arm is not None:
        resource["assignedArm"] = arm.code
    if subject.consents:
        resource["consent"] = {"reference": f"Consent/{subject.consents[-1].id}"}
    return resource


def questionnaire(study: Study, published: PublishedQuestionnaire) -> JsonObject:
    definition = published.definition
    form = study.forms[(definition.code, definition.version)]
    resource: JsonObject = {
        "resourceType": "Questionnaire",
        "id": str(published.id),
        "language": form.primary,
        "url": form.url,
        "version": str(definition.version),
        "name": definition.code,
        **translated("title", definition.title, form.primary),
        "status": "active",
        "subjectType": ["Patient"],
        "date": instant(published.published_at),
        "item": [_questionnaire_item(study, form, item) for item in definition.items],
    }
    return resource


def _questionnaire_item(study: Study, form: Form, item: Item) -> JsonObject:
    found: JsonObject = {
        "linkId": item.code,
        "code": [
            coding(f"urn:hearth:{study.code}:items:{form.definition.code}", item.code)
            | {"display": item.test_label}
        ],
        **translated("text", item.texts, form.primary),
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
                    **translated("display", choice.texts, form.primary),
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
            {"url": ITEM_CONTROL, "valueCodeableConcept": concept(ITEM_CONTROL_SYSTEM, "slider")}
        )
    for url, bound in ((MIN_VALUE, item.minimum), (MAX_VALUE, item.maximum)):
        if bound is not None:
            value: Json = int(bound) if value_key == "valueInteger" else Decimal(bound)
            extensions.append({"url": url, value_key: value})
    if item.unit is not None:
        extensions.append({"url": ITEM_UNIT, "valueCoding": coding(UCUM, item.unit, item.unit)})
    return extensions
