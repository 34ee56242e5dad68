"""FHIR NDJSON export: every line validates with fhir.resources (R4B), one resource type per
file, UCUM quantities, references that resolve, offsets on timestamps, and nothing personal."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from domain.adverse_events import AdverseEventStatus
from domain.devices import StoredReading
from domain.diaries import EntryStatus
from domain.medications import MedicationStatus
from domain.participants import ParticipantStatus
from domain.readings import ReadingKind
from infra.exports.fhir import RESOURCE_TYPES, Json, dumps, subject_resource_id, write_fhir
from infra.exports.fhir.provenance import Targets
from infra.exports.fhir.provenance import provenance as provenance_of
from infra.exports.model import Event, Subject, WrittenFile
from tests.export_sample import (
    COORDINATOR,
    PARTICIPANT_WORDS,
    T0,
    UNCONFIRMED_MEDICATION,
    SampleSnapshot,
    sample_snapshot,
)

UCUM = "http://unitsofmeasure.org"
OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FREE_TEXT = "Mein Nachbar Herr Schulz hat mich gefahren"  # what a participant might write
LOINC = {
    ReadingKind.HEART_RATE: ("8867-4", "/min"),
    ReadingKind.BLOOD_PRESSURE: ("85354-9", "mm[Hg]"),
    ReadingKind.STEP_COUNT: ("55423-8", "{steps}"),
    ReadingKind.BODY_WEIGHT: ("29463-7", "kg"),
    ReadingKind.BLOOD_GLUCOSE: ("15074-8", "mmol/L"),
    ReadingKind.OXYGEN_SATURATION: ("59408-5", "%"),
    ReadingKind.BODY_TEMPERATURE: ("8310-5", "Cel"),
}
# Codes fhir.resources does not check (required bindings), checked here instead.
STATUSES = {
    "ResearchStudy": {"active"},
    "ResearchSubject": {"screening", "pending-on-study", "on-study", "off-study", "withdrawn"},
    "Questionnaire": {"active"},
    "QuestionnaireResponse": {"completed", "amended"},
    "Observation": {"final", "entered-in-error"},
    "Appointment": {"booked", "fulfilled", "cancelled"},
    "Consent": {"active"},
}
TIMESTAMP_KEYS = {
    "authored",
    "recorded",
    "issued",
    "start",
    "end",
    "effectiveDateTime",
    "dateTime",
    "date",
    "valueDateTime",
    "when",
    "occurredDateTime",
}


def model(resource_type: str) -> Any:
    module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
    return getattr(module, resource_type)


def walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON document, depth first."""
    yield key, value
    if isinstance(value, dict):
        for name, item in value.items():
            yield from walk(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)


@dataclasses.dataclass
class Export:
    directory: Path
    written: list[WrittenFile]
    progress: list[int]
    snapshot: SampleSnapshot

    def lines(self, resource_type: str) -> list[str]:
        return (self.directory / f"{resource_type}.ndjson").read_text("utf-8").splitlines()

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        return [json.loads(line, parse_float=Decimal) for line in self.lines(resource_type)]

    def everything(self) -> Iterator[dict[str, Any]]:
        for resource_type in RESOURCE_TYPES:
            yield from self.resources(resource_type)

    def text(self) -> str:
        return "\n".join(
            (self.directory / f"{t}.ndjson").read_text("utf-8") for t in RESOURCE_TYPES
        )


def _stream(items: list[StoredReading]) -> Callable[[], AsyncIterator[StoredReading]]:
    async def readings() -> AsyncIterator[StoredReading]:
        for item in items:
            yield item

    return readings


def extended_snapshot() -> SampleSnapshot:
    """The sample plus what it lacks: a quarantined entry, a free-text answer that must not
    leak, a deleted reading, and events with a reason, from the system and about a reading."""
    sample = sample_snapshot()
    first = sample._subjects[0]
    pid = first.info.id
    accepted = first.entries[1]
    leaky = dataclasses.replace(
        accepted, answers={**accepted.answers, "NOTE": FREE_TEXT}, free_text={"NOTE": FREE_TEXT}
    )
    quarantined = dataclasses.replace(
        first.entries[0], id=uuid.UUID(int=4242), status=EntryStatus.QUARANTINED
    )
    readings = list(sample._readings[pid])
    readings[0] = readings[0].deleted("Wrong participant's device", T0 + timedelta(days=1))
    base = max(event.position for subject in sample._subjects for event in subject.events)

    def event(n: int, reason: str | None = None, **fields: Any) -> Event:
        return Event(
            position=base + n,
            id=uuid.UUID(int=20_000 + n),
            recorded_at=T0 + timedelta(days=2, minutes=n),
            actor_kind="STAFF",
            actor_id=COORDINATOR,
            actor_role="DATA_MANAGER",
            site_id=first.info.site_id,
            changes=(),
            reason=reason,
            **fields,
        )

    extra = (
        event(1, entity_type="Reading", entity_id=readings[0].id, action="deleted"),
        event(2, entity_type="DiaryEntry", entity_id=quarantined.id, action="submitted"),
        event(3, entity_type="Participant", entity_id=pid, action="erased", reason="GDPR Art. 17"),
        dataclasses.replace(
            event(4, entity_type="Participant", entity_id=pid, action="reminded"),
            actor_kind="SYSTEM",
            actor_id=None,
            actor_role="SYSTEM",
            device_time=T0.astimezone(timezone(timedelta(hours=5, minutes=30))),
        ),
    )
    changed = dataclasses.replace(
        first,
        entries=(first.entries[0], leaky, quarantined),
        events=first.events + extra,
        readings=_stream(readings),
    )
    return SampleSnapshot(sample.meta, [changed, *sample._subjects[1:]], sample._readings)


def fresh(directory: Path) -> Path:
    directory.mkdir()
    return directory


async def run(snapshot: SampleSnapshot, directory: Path) -> Export:
    fresh(directory)
    progress: list[int] = []
    written = await write_fhir(snapshot, directory, progress.append)
    return Export(directory, written, progress, snapshot)


@pytest.fixture
async def sample(tmp_path: Path) -> Export:
    return await run(sample_snapshot(), tmp_path / "sample")


@pytest.fixture
async def extended(tmp_path: Path) -> Export:
    return await run(extended_snapshot(), tmp_path / "extended")


@pytest.fixture(params=["sample", "extended"])
def export(request: pytest.FixtureRequest) -> Export:
    found: Export = request.getfixturevalue(request.param)
    return found


# -- structure -------------------------------------------------------------------------------


def test_every_line_validates_with_its_r4b_model(export: Export) -> None:
    for resource_type in RESOURCE_TYPES:
        validator = model(resource_type)
        for line in export.lines(resource_type):
            parsed = validator.model_validate_json(line)
            assert parsed.get_resource_type() == resource_type


def test_one_resource_type_per_file_and_ids_are_unique_fhir_ids(export: Export) -> None:
    assert sorted(p.name for p in export.directory.iterdir()) == sorted(
        f"{t}.ndjson" for t in RESOURCE_TYPES
    )
    for resource_type in RESOURCE_TYPES:
        resources = export.resources(resource_type)
        assert resources, resource_type
        assert {r["resourceType"] for r in resources} == {resource_type}
        ids = [r["id"] for r in resources]
        assert len(ids) == len(set(ids))
        assert all(re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", i) for i in ids)
        for resource in resources:
            if resource_type in STATUSES:
                assert resource["status"] in STATUSES[resource_type]


def test_lines_are_compact_json(sample: Export) -> None:
    for resource_type in RESOURCE_TYPES:
        for line in sample.lines(resource_type):
            assert dumps(json.loads(line, parse_float=Decimal)) == line
    assert "Charité Berlin" in sample.lines("ResearchStudy")[0]  # UTF-8, not \\u escapes


def test_dumps_is_json_dumps_with_exact_decimals() -> None:
    document: dict[str, Json] = {"a": [1, True, False, 'ü"\n'], "b": {"c": "x"}, "d": []}
    assert dumps(document) == json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    assert dumps([Decimal("72.000"), Decimal("1E+2"), Decimal("-0.5")]) == "[72.000,100,-0.5]"
    with pytest.raises(ValueError, match="finite"):
        dumps(Decimal("NaN"))


def test_written_files_match_the_files_on_disk(export: Export) -> None:
    assert [w.name for w in export.written] == [f"{t}.ndjson" for t in RESOURCE_TYPES]
    for written in export.written:
        data = (export.directory / written.name).read_bytes()
        assert written.rows == data.count(b"\n") == len(data.splitlines())
        assert written.bytes == len(data)
        assert written.sha256 == hashlib.sha256(data).hexdigest()
        assert data.endswith(b"\n")
    assert sum(export.progress) == sum(w.rows for w in export.written)


def test_adverse_events_are_the_recorded_ones_without_the_participants_words(
    sample: Export,
) -> None:
    path = sample.directory / "AdverseEvent.ndjson"
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert {e["event"]["text"] for e in events} == {"Pneumonia", "Headache"}
    pneumonia = next(e for e in events if e["event"]["text"] == "Pneumonia")
    assert pneumonia["seriousness"]["coding"][0]["code"] == "serious"
    assert pneumonia["event"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/mdr",
        "code": "10035664",
        "display": "Pneumonia",
    }
    assert pneumonia["outcome"]["coding"][0]["code"] == "resolved"
    for written in sample.written:
        text = (sample.directory / written.name).read_text(encoding="utf-8")
        assert PARTICIPANT_WORDS not in text, written.name


def test_medication_statements_are_the_recorded_ones_coded_with_ucum_doses(
    sample: Export,
) -> None:
    path = sample.directory / "MedicationStatement.ndjson"
    found = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    names = {m["medicationCodeableConcept"]["text"] for m in found}
    assert names == {"Amoxicillin 500", "Ibuprofen"}
    coded = next(m for m in found if m["medicationCodeableConcept"]["text"] == "Amoxicillin 500")
    assert coded["medicationCodeableConcept"]["coding"] == [
        {"system": "urn:hearth:whodrug", "code": "000136010010", "display": "AMOXICILLIN"}
    ]
    assert coded["status"] == "completed"
    assert coded["effectivePeriod"] == {"start": "2026-06-03", "end": "2026-06-10"}
    dosage = coded["dosage"][0]
    assert dosage["doseAndRate"][0]["doseQuantity"] == {
        "value": 500,
        "unit": "mg",
        "system": UCUM,
        "code": "mg",
    }
    assert dosage["timing"]["code"]["coding"][0]["code"] == "TID"
    assert coded["reasonCode"] == [{"text": "Pneumonia"}]
    ongoing = next(m for m in found if m["medicationCodeableConcept"]["text"] == "Ibuprofen")
    assert ongoing["status"] == "active"
    assert "effectivePeriod" not in ongoing  # its start, 2026-05, is partial: SDTM keeps it
    assert ongoing["dosage"][0]["asNeededBoolean"] is True
    assert ongoing["informationSource"] == {"display": "Participant"}
    for written in sample.written:
        text = (sample.directory / written.name).read_text(encoding="utf-8")
        assert UNCONFIRMED_MEDICATION not in text, written.name


def test_provenance_agents_are_pseudonymous_and_reasons_coded(sample: Export) -> None:
    subject = sample.snapshot._subjects[0]
    targets = Targets(subject)
    staff = next(e for e in subject.events if e.actor_kind == "STAFF")
    made = provenance_of(targets, dataclasses.replace(staff, reason_code="TRANSCRIPTION_ERROR"))
    coded: dict[str, Any] = json.loads(dumps(made))
    assert coded["reason"] == [
        {
            "coding": [
                {
                    "system": "urn:hearth:reason-for-change",
                    "code": "TRANSCRIPTION_ERROR",
                    "display": "Transcription error",
                }
            ]
        }
    ]
    assert coded["agent"][0]["who"]["identifier"] == {
        "system": "urn:hearth:staff-user",
        "value": f"urn:uuid:{staff.actor_id}",
    }
    get_fhir_model_class("Provenance").model_validate(coded)
    by_app = next(e for e in subject.events if e.actor_kind == "PARTICIPANT")
    who = json.loads(dumps(provenance_of(targets, by_app)))["agent"][0]["who"]
    assert who["identifier"] == {
        "system": "urn:hearth:participant-app",
        "value": subject.info.subject_id,
    }
    assert str(subject.info.id) not in json.dumps(who)  # the internal id never leaves


def test_counts_per_file(sample: Export) -> None:
    rows = {w.name.removesuffix(".ndjson"): w.rows for w in sample.written}
    subjects = sample.snapshot._subjects
    assert rows == {
        "ResearchStudy": 1,
        "ResearchSubject": len(subjects),
        "Questionnaire": len(sample.snapshot.meta.questionnaires),
        "QuestionnaireResponse": sum(len(s.entries) for s in subjects),
        "Observation": sum(len(r) for r in sample.snapshot._readings.values()),
        "Appointment": sum(len(s.visits) for s in subjects),
        "Consent": sum(len(s.consents) for s in subjects),
        "Provenance": sum(len(s.events) for s in subjects),
        "AdverseEvent": sum(
            e.status is AdverseEventStatus.RECORDED for s in subjects for e in s.adverse_events
        ),
        "MedicationStatement": sum(
            m.status is MedicationStatus.RECORDED for s in subjects for m in s.medications
        ),
    }


async def test_output_is_deterministic(tmp_path: Path) -> None:
    snapshot = extended_snapshot()
    first = await run(snapshot, tmp_path / "one")
    second = await run(snapshot, tmp_path / "two")
    assert [w.sha256 for w in first.written] == [w.sha256 for w in second.written]


# -- quantities, references, times -----------------------------------------------------------


def test_every_quantity_is_ucum(export: Export) -> None:
    quantities = 0
    for resource in export.everything():
        for key, value in walk(resource):
            is_quantity = key.endswith("Quantity") or (
                isinstance(value, dict) and "value" in value and "unit" in value
            )
            if is_quantity:
                quantities += 1
                assert value["system"] == UCUM
                assert value["code"] == value["unit"]
                assert isinstance(value["value"], Decimal | int)
    assert quantities >= len(export.resources("Observation"))


def test_references_resolve_within_the_export(export: Export) -> None:
    ids = {(t, r["id"]) for t in RESOURCE_TYPES for r in export.resources(t)}
    literal = 0
    for resource in export.everything():
        for key, value in walk(resource):
            if key == "reference":
                resource_type, _, resource_id = value.partition("/")
                assert (resource_type, resource_id) in ids, value
                literal += 1
            if isinstance(value, dict) and "identifier" in value and "type" in value:
                assert set(value) <= {"type", "identifier", "display"}  # logical references
    assert literal > 0
    study = export.resources("ResearchStudy")[0]
    arms = {arm["name"] for arm in study["arm"]}
    for subject in export.resources("ResearchSubject"):
        assert subject["study"] == {"reference": f"ResearchStudy/{study['id']}"}
        assert subject.get("assignedArm", "ACTIVE") in arms


def test_questionnaire_responses_match_their_questionnaire(export: Export) -> None:
    forms = {f"{q['url']}|{q['version']}": q for q in export.resources("Questionnaire")}
    responses = export.resources("QuestionnaireResponse")
    assert responses
    for response in responses:
        form = forms[response["questionnaire"]]
        items = {item["linkId"]: item for item in form["item"]}
        order = list(items)
        linked = [item["linkId"] for item in response["item"]]
        assert linked == sorted(linked, key=order.index)
        for answered in response["item"]:
            item = items[answered["linkId"]]
            assert item["type"] != "string"  # free text is never answered
            assert len(answered["answer"]) == 1 or item.get("repeats")
            for answer in answered["answer"]:
                (kind, value), *_ = answer.items()
                expected = {
                    "choice": "valueCoding",
                    "integer": "valueInteger",
                    "decimal": "valueDecimal",
                    "date": "valueDate",
                    "time": "valueTime",
                    "dateTime": "valueDateTime",
                }[item["type"]]
                assert kind == expected
                if kind == "valueCoding":
                    options = [o["valueCoding"] for o in item["answerOption"]]
                    assert {"system": value["system"], "code": value["code"]} in [
                        {"system": o["system"], "code": o["code"]} for o in options
                    ]
                    assert value["system"].endswith(f":{answered['linkId']}")


def test_every_timestamp_carries_an_offset(export: Export) -> None:
    seen = 0
    for resource in export.everything():
        for key, value in walk(resource):
            if key in TIMESTAMP_KEYS and isinstance(value, str):
                seen += 1
                if "T" in value:
                    assert OFFSET.search(value), (key, value)
                else:
                    assert DATE.fullmatch(value), (key, value)
    assert seen > 50


# -- mapping ---------------------------------------------------------------------------------


def test_research_study(sample: Export) -> None:
    (study,) = sample.resources("ResearchStudy")
    meta = sample.snapshot.meta
    assert study["id"] == str(meta.study.id)
    assert study["identifier"] == [{"system": "urn:hearth:study", "value": "HEARTH-01"}]
    assert study["title"] == "Heart failure at home"
    assert [s["identifier"]["value"] for s in study["site"]] == ["BER", "BOS"]
    assert [c["coding"][0]["code"] for c in study["location"]] == ["DE", "US"]
    assert study["arm"] == [
        {"name": "ACTIVE", "description": "Active treatment"},
        {"name": "PLACEBO", "description": "Placebo"},
    ]


def test_research_subjects(sample: Export) -> None:
    found = {s["id"]: s for s in sample.resources("ResearchSubject")}
    assert set(found) == {"K7Q2-9XHD", "M3TR-4PLW", "Z9XC-2VBN"}
    enrolled, withdrawn, screened = found["K7Q2-9XHD"], found["M3TR-4PLW"], found["Z9XC-2VBN"]
    assert enrolled["individual"] == {
        "type": "Patient",
        "identifier": {"system": "urn:hearth:subject", "value": "K7Q2-9XHD"},
    }
    assert (enrolled["status"], enrolled["assignedArm"]) == ("on-study", "ACTIVE")
    assert enrolled["period"] == {"start": T0.date().isoformat()}
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["period"]["end"] == "2026-03-02T08:00:00+00:00"
    assert screened["status"] == "screening"
    assert "assignedArm" not in screened
    assert "period" not in screened
    assert enrolled["consent"]["reference"].startswith("Consent/")


def test_subject_ids_that_are_no_fhir_ids_get_a_stable_one() -> None:
    assert subject_resource_id("K7Q2-9XHD") == "K7Q2-9XHD"
    odd = subject_resource_id("K7Q2 9XHD/1")
    assert odd == subject_resource_id("K7Q2 9XHD/1")
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", odd)


def test_questionnaires(sample: Export) -> None:
    first, second = sample.resources("Questionnaire")
    assert first["url"] == "urn:hearth:HEARTH-01:questionnaire:SYMPTOMS"
    assert (first["version"], second["version"]) == ("1", "2")
    assert first["status"] == "active"
    assert first["title"] == "Daily symptoms"
    translations = first["_title"]["extension"][0]["extension"]
    assert translations == [
        {"url": "lang", "valueCode": "de"},
        {"url": "content", "valueString": "Tägliche Beschwerden"},
    ]
    types = {item["linkId"]: item["type"] for item in first["item"]}
    assert types == {
        "MOOD": "choice",
        "WHERE": "choice",
        "SLEEP": "integer",
        "WEIGHT": "decimal",
        "PAIN": "integer",
        "NAUSEA": "decimal",
        "ONSET": "date",
        "PILL": "time",
        "WOKE": "dateTime",
        "NOTE": "string",
    }
    items = {item["linkId"]: item for item in first["item"]}
    assert items["WHERE"]["repeats"] is True
    assert [o["valueCoding"]["code"] for o in items["MOOD"]["answerOption"]] == ["GOOD", "BAD"]
    assert items["MOOD"]["answerOption"][0]["valueCoding"]["system"] == (
        "urn:hearth:HEARTH-01:codes:SYMPTOMS:MOOD"
    )
    bounds = {e["url"].rsplit("/", 1)[1]: e for e in items["WEIGHT"]["extension"]}
    assert bounds["minValue"]["valueDecimal"] == Decimal("20.0")
    assert bounds["questionnaire-unit"]["valueCoding"] == {
        "system": UCUM,
        "code": "kg",
        "display": "kg",
    }
    assert len(second["item"]) == 5


def test_questionnaire_response_answers(sample: Export) -> None:
    responses = {r["id"]: r for r in sample.resources("QuestionnaireResponse")}
    entry = sample.snapshot._subjects[0].entries[0]
    response = responses[str(entry.id)]
    assert response["status"] == "amended"  # corrected after submission
    assert response["authored"] == "2026-03-02T09:20:00+01:00"
    assert response["subject"]["identifier"]["value"] == "K7Q2-9XHD"
    answers = {item["linkId"]: item["answer"] for item in response["item"]}
    assert [a["valueCoding"]["code"] for a in answers["WHERE"]] == ["BACK", "HEAD"]
    assert answers["SLEEP"] == [{"valueInteger": 7}]
    assert answers["WEIGHT"] == [{"valueDecimal": Decimal("71.5")}]
    assert answers["NAUSEA"] == [{"valueDecimal": Decimal("12.5")}]
    assert answers["ONSET"] == [{"valueDate": "2026-02-27"}]
    assert answers["PILL"] == [{"valueTime": "08:30:00"}]
    assert answers["WOKE"] == [{"valueDateTime": "2026-03-02T06:45:00+01:00"}]
    late = responses[str(sample.snapshot._subjects[0].entries[1].id)]
    assert late["status"] == "completed"


def test_observations(sample: Export) -> None:
    readings = {str(r.id): r for rs in sample.snapshot._readings.values() for r in rs}
    observations = sample.resources("Observation")
    assert {o["id"] for o in observations} == set(readings)
    kinds = set()
    for observation in observations:
        stored = readings[observation["id"]]
        reading = stored.reading
        kinds.add(reading.kind)
        code, unit = LOINC[reading.kind]
        assert observation["code"]["coding"][0] == {
            "system": "http://loinc.org",
            "code": code,
            "display": observation["code"]["coding"][0]["display"],
        }
        category = observation["category"][0]["coding"][0]
        assert category["system"] == "http://terminology.hl7.org/CodeSystem/observation-category"
        assert category["code"] == (
            "activity" if reading.kind is ReadingKind.STEP_COUNT else "vital-signs"
        )
        assert observation["status"] == "final"
        assert observation["identifier"][0]["value"] == reading.source_id
        assert observation["device"]["identifier"]["value"] == str(stored.device_id)
        assert observation["subject"]["type"] == "Patient"
        if reading.kind is ReadingKind.BLOOD_PRESSURE:
            assert "valueQuantity" not in observation
            systolic, diastolic = observation["component"]
            assert systolic["code"]["coding"][0]["code"] == "8480-6"
            assert diastolic["code"]["coding"][0]["code"] == "8462-4"
            assert systolic["valueQuantity"]["value"] == reading.components["systolic"].value
            assert diastolic["valueQuantity"]["value"] == reading.components["diastolic"].value
            assert systolic["valueQuantity"]["code"] == unit
        else:
            (measurement,) = reading.components.values()
            quantity = observation["valueQuantity"]
            assert quantity == {
                "value": measurement.value,
                "unit": unit,
                "system": UCUM,
                "code": unit,
            }
            assert str(quantity["value"]) == str(measurement.value)  # exact digits
        if reading.effective_end is None:
            assert observation["effectiveDateTime"] == reading.effective_start.isoformat()
        else:
            assert observation["effectivePeriod"] == {
                "start": reading.effective_start.isoformat(),
                "end": reading.effective_end.isoformat(),
            }
    assert kinds == set(ReadingKind)


def test_appointments(sample: Export) -> None:
    appointments = {a["id"]: a for a in sample.resources("Appointment")}
    visits = [v for s in sample.snapshot._subjects for v in s.visits]
    assert set(appointments) == {str(v.id) for v in visits}
    statuses = {a["status"] for a in appointments.values()}
    assert statuses == {"booked", "fulfilled", "cancelled"}
    for visit in visits:
        appointment = appointments[str(visit.id)]
        assert appointment["start"]  # app-3: booked and fulfilled ones need start and end
        assert appointment["end"]
        assert appointment["minutesDuration"] == visit.duration_minutes
        assert appointment["serviceType"][0]["coding"][0]["code"] == visit.mode.value
        (participant,) = appointment["participant"]
        assert participant["status"] == "accepted"
        assert participant["actor"]["identifier"]["system"] == "urn:hearth:subject"
    berlin = next(a for a in appointments.values() if a["start"].startswith("2026-03-02T09"))
    assert berlin["start"] == "2026-03-02T09:00:00+01:00"
    assert berlin["appointmentType"]["coding"][0]["code"] == "BASELINE"


def test_consents(sample: Export) -> None:
    consents = sample.resources("Consent")
    assert len(consents) == 2
    for consent in consents:
        assert consent["scope"]["coding"][0] == {
            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
            "code": "research",
            "display": "Research",
        }
        assert consent.get("policy") or consent.get("policyRule")  # ppc-1
        assert consent["policy"] == [{"uri": "urn:hearth:HEARTH-01:consent:1"}]
        assert consent["patient"]["identifier"]["system"] == "urn:hearth:subject"
        assert consent["dateTime"] == "2026-02-21T08:00:00+00:00"


def test_provenance_one_per_event(extended: Export) -> None:
    events = {str(e.id): e for s in extended.snapshot._subjects for e in s.events}
    provenances = {p["id"]: p for p in extended.resources("Provenance")}
    assert set(provenances) == set(events)
    for provenance_id, provenance in provenances.items():
        event = events[provenance_id]
        assert provenance["recorded"] == event.recorded_at.isoformat()
        assert provenance["activity"]["text"] == event.action
        (agent,) = provenance["agent"]
        # Named by a pseudonymous identifier as well as by role; every activity coded.
        assert set(agent["who"]) == {"identifier", "display"}
        assert provenance["activity"]["coding"][-1] == {
            "system": "urn:hearth:activity",
            "code": event.action,
            "display": event.action.replace("_", " ").capitalize(),
        }
        if event.reason is None:
            assert "reason" not in provenance
        else:
            assert provenance["reason"] == [{"text": event.reason}]
        (target,) = provenance["target"]
        if event.entity_type == "Participant":
            assert target["reference"].startswith("ResearchSubject/")
        elif event.entity_type == "ReadingBatch":
            assert target["identifier"]["system"] == "urn:hearth:reading-batch"
            assert "reference" not in target
    by_action = {p["activity"]["text"]: p for p in provenances.values()}
    assert by_action["erased"]["reason"] == [{"text": "GDPR Art. 17"}]
    assert by_action["reminded"]["agent"][0]["who"]["display"] == "System"
    assert by_action["reminded"]["occurredDateTime"].endswith("+05:30")
    assert by_action["deleted"]["target"][0]["reference"].startswith("Observation/")
    assert by_action["deleted"]["agent"][0]["who"]["display"] == "Data manager"
    signed = [p for p in provenances.values() if "signature" in p]
    assert signed
    assert signed[0]["target"][0]["reference"].startswith("Appointment/")
    assert signed[0]["signature"][0]["who"] == {"display": "Investigator"}
    quarantined = [
        p for p in provenances.values() if p["target"][0].get("type") == "QuestionnaireResponse"
    ]
    assert quarantined[0]["target"][0]["identifier"]["value"] == f"urn:uuid:{uuid.UUID(int=4242)}"


# -- what stays out --------------------------------------------------------------------------


def test_quarantined_entries_are_left_out_and_deleted_readings_marked(extended: Export) -> None:
    responses = {r["id"] for r in extended.resources("QuestionnaireResponse")}
    assert str(uuid.UUID(int=4242)) not in responses
    assert len(responses) == 4
    statuses = [o["status"] for o in extended.resources("Observation")]
    assert statuses.count("entered-in-error") == 1
    assert statuses.count("final") == len(statuses) - 1


def test_nothing_personal_is_written(export: Export) -> None:
    text = export.text()
    subjects: list[Subject] = export.snapshot._subjects
    for subject in subjects:
        assert str(subject.info.id) not in text
        assert subject.info.id.hex not in text
    for name in export.snapshot.meta.staff.values():
        assert name not in text
    for word in ("Carla", "Vogel", "Schulz", FREE_TEXT, "Wrong participant", "screening_number"):
        assert word not in text
    for response in export.resources("QuestionnaireResponse"):
        assert "NOTE" not in {item["linkId"] for item in response.get("item", [])}


def test_free_text_items_are_described_but_never_answered(extended: Export) -> None:
    questionnaire = extended.resources("Questionnaire")[0]
    note = next(item for item in questionnaire["item"] if item["linkId"] == "NOTE")
    assert note["type"] == "string"
    leaky = extended.snapshot._subjects[0].entries[1]
    assert leaky.answers["NOTE"] == FREE_TEXT
    assert FREE_TEXT not in extended.text()


async def test_every_participant_status_maps_to_a_research_subject_status(
    tmp_path: Path,
) -> None:
    sample = sample_snapshot()
    screened = sample._subjects[2]
    subjects = [
        dataclasses.replace(
            screened,
            info=dataclasses.replace(
                screened.info, id=uuid.uuid4(), subject_id=f"S{n:03d}-TEST", status=status
            ),
        )
        for n, status in enumerate(ParticipantStatus)
    ]
    export = await run(SampleSnapshot(sample.meta, subjects, {}), tmp_path / "statuses")
    found = [r["status"] for r in export.resources("ResearchSubject")]
    assert found == ["screening", "pending-on-study", "on-study", "off-study", "withdrawn"]
    assert [w.rows for w in export.written if w.name == "Observation.ndjson"] == [0]
    validator = model("ResearchSubject")
    for line in export.lines("ResearchSubject"):
        validator.model_validate_json(line)
