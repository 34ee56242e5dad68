"""The participant's own data as a FHIR R4B Bundle (JSON) and a readable HTML page, in one ZIP.

Unlike the sponsor exports this is for the participant: their free-text answers are in it, and
every question is shown in the language of their consent (falling back to the study's first).
"""

from __future__ import annotations

import html
import io
import json
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from domain.data_downloads import MyData
from domain.devices import StoredReading
from domain.diaries import DiaryEntry
from domain.questionnaires.definition import QuestionnaireVersion
from domain.visits import Visit, VisitStatus
from infra.exports.fhir.jsontext import (
    CONSENT_SCOPE_SYSTEM,
    LOINC,
    SUBJECT_SYSTEM,
    URI_SYSTEM,
)

UCUM = "http://unitsofmeasure.org"
_VISIT = {
    VisitStatus.SCHEDULED: "booked",
    VisitStatus.COMPLETED: "fulfilled",
    VisitStatus.CANCELLED: "cancelled",
}
Json = dict[str, Any]


def _urn(value: uuid.UUID) -> str:
    return f"urn:uuid:{value}"


def _instant(moment: datetime) -> str:
    return moment.isoformat()


def _text(texts: Mapping[str, str], language: str) -> str:
    for tag in (language, language.split("-", maxsplit=1)[0]):
        if tag in texts:
            return texts[tag]
    return next(iter(texts.values()), "")


class FhirMyData:
    """The `MyDataRenderer` of the worker."""

    def archive(self, data: MyData) -> bytes:
        bundle = bundle_of(data)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("bundle.json", json.dumps(bundle, indent=1, ensure_ascii=False))
            archive.writestr("index.html", page_of(data))
        return buffer.getvalue()


def bundle_of(data: MyData) -> Json:
    me = _urn(data.participant.id)
    subject = {"reference": me}
    resources: list[tuple[str, Json]] = [
        (
            me,
            {
                "resourceType": "Patient",
                "identifier": [{"system": SUBJECT_SYSTEM, "value": data.participant.subject_id}],
            },
        ),
        (_urn(data.study.id), _study(data)),
        (_urn(data.site.id), _site(data)),
    ]
    resources += [
        (_urn(c.id), _consent(data, c.id, c.number, c.language, c.signed_at)) for c in data.consents
    ]
    resources += [(_urn(e.id), _response(data, e, subject)) for e in data.entries]
    resources += [(_urn(r.id), _observation(r, subject)) for r in data.readings]
    resources += [(_urn(v.id), _appointment(v, subject)) for v in data.visits]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(data.generated_at),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in resources],
    }


def _study(data: MyData) -> Json:
    return {
        "resourceType": "ResearchStudy",
        "identifier": [{"system": "urn:hearth:study", "value": data.study.code}],
        "title": data.study.title,
        "status": "active" if data.study.closed_at is None else "completed",
    }


def _site(data: MyData) -> Json:
    site: Json = {"resourceType": "Organization", "name": data.site.name}
    if data.site.contact:
        site["telecom"] = [{"system": "other", "value": data.site.contact}]
    return site


def _consent(data: MyData, cid: uuid.UUID, number: int, language: str, at: datetime) -> Json:
    policy = f"urn:hearth:{data.study.code}:consent:{number}"
    return {
        "resourceType": "Consent",
        "identifier": [{"system": URI_SYSTEM, "value": _urn(cid)}],
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "research"}]},
        "category": [{"coding": [{"system": LOINC, "code": "59284-0"}]}],
        "patient": {"reference": _urn(data.participant.id)},
        "dateTime": _instant(at),
        "policy": [{"uri": policy}],
        "sourceAttachment": {"language": language, "url": policy},
    }


def _answer(value: object) -> list[Json]:
    if isinstance(value, bool):
        return [{"valueBoolean": value}]
    if isinstance(value, int):
        return [{"valueInteger": value}]
    if isinstance(value, float | Decimal):
        return [{"valueDecimal": float(value)}]
    if isinstance(value, list | tuple):
        return [a for v in value for a in _answer(v)]
    return [{"valueString": str(value)}]


def _questions(data: MyData, entry: DiaryEntry) -> QuestionnaireVersion | None:
    found = data.questionnaires.get((entry.questionnaire_code, entry.questionnaire_version))
    return None if found is None else found.definition


def _answered(data: MyData, entry: DiaryEntry) -> list[tuple[str, str, object]]:
    """(code, question in the participant's language, answer) in the questionnaire's order."""
    form = _questions(data, entry)
    answers = {**entry.answers, **entry.free_text}
    order = [i.code for i in form.items] if form else sorted(answers)
    texts = {i.code: _text(i.texts, data.language) for i in form.items} if form else {}
    return [(code, texts.get(code, code), answers[code]) for code in order if code in answers]


def _response(data: MyData, entry: DiaryEntry, subject: Json) -> Json:
    form = f"urn:hearth:questionnaire:{entry.questionnaire_code}|{entry.questionnaire_version}"
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": form,
        "status": "completed",
        "subject": subject,
        "authored": _instant(entry.completed_at),
        "item": [
            {"linkId": code, "text": question, "answer": _answer(value)}
            for code, question, value in _answered(data, entry)
        ],
    }


def _quantity(value: Decimal, unit: str) -> Json:
    return {"value": float(value), "unit": unit, "system": UCUM, "code": unit}


def _observation(stored: StoredReading, subject: Json) -> Json:
    reading = stored.reading
    observation: Json = {
        "resourceType": "Observation",
        "status": "final" if stored.deleted_at is None else "entered-in-error",
        "code": {"text": reading.kind.value},
        "subject": subject,
        "effectiveDateTime": _instant(reading.effective_start),
    }
    parts = list(reading.components.items())
    if len(parts) == 1:
        observation["valueQuantity"] = _quantity(parts[0][1].value, parts[0][1].unit)
    else:
        observation["component"] = [
            {"code": {"text": name}, "valueQuantity": _quantity(m.value, m.unit)}
            for name, m in parts
        ]
    return observation


def _appointment(visit: Visit, subject: Json) -> Json:
    start = visit.starts_at.astimezone(ZoneInfo(visit.timezone))
    return {
        "resourceType": "Appointment",
        "status": _VISIT[visit.status],
        "start": _instant(start),
        "end": _instant(start + timedelta(minutes=visit.duration_minutes)),
        "minutesDuration": visit.duration_minutes,
        "participant": [{"actor": subject, "status": "accepted"}],
    }


# --- the readable page ---------------------------------------------------------------------


def _rows(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page_of(data: MyData) -> str:
    e = html.escape
    parts = [
        f'<!DOCTYPE html><html lang="{e(data.language)}"><head><meta charset="utf-8">',
        f"<title>{e(data.study.title)}</title></head><body>",
        f"<h1>{e(data.study.title)}</h1>",
        f"<p>Subject {e(data.participant.subject_id)} at {e(data.site.name)}"
        + (f" — contact: {e(data.site.contact)}" if data.site.contact else "")
        + f". Prepared {e(_instant(data.generated_at))}.</p>",
        "<h2>Consent</h2>",
        _rows(
            ("Version", "Language", "Signed"),
            [(c.number, c.language, _instant(c.signed_at)) for c in data.consents],
        ),
        "<h2>Diaries</h2>",
    ]
    for entry in data.entries:
        parts.append(f"<h3>{e(entry.questionnaire_code)} — {e(_instant(entry.completed_at))}</h3>")
        parts.append(_rows(("Question", "Answer"), [(q, v) for _, q, v in _answered(data, entry)]))
    parts += [
        "<h2>Readings</h2>",
        _rows(
            ("Kind", "When", "Values"),
            [
                (
                    r.reading.kind.value,
                    _instant(r.reading.effective_start),
                    ", ".join(f"{m.value} {m.unit}" for m in r.reading.components.values()),
                )
                for r in data.readings
            ],
        ),
        "<h2>Visits</h2>",
        _rows(
            ("Start", "Status", "Minutes"),
            [
                (
                    _instant(v.starts_at.astimezone(ZoneInfo(v.timezone))),
                    v.status.value,
                    v.duration_minutes,
                )
                for v in data.visits
            ],
        ),
        "</body></html>",
    ]
    return "".join(parts)
