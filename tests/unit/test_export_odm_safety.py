"""ODM export: adverse events, medications and deviations under SE.SAFETY, with their trail."""

from __future__ import annotations

import dataclasses
import importlib.util
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import xmlschema

from domain import audit
from domain.adverse_events import AdverseEventStatus, Severity
from domain.medications import MedicationStatus
from domain.reason_codes import ReasonCode
from infra.exports.model import Change, Event, Subject
from infra.exports.odm import write_odm
from tests.export_sample import COORDINATOR, PARTICIPANT_WORDS, SampleSnapshot, sample_snapshot

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


def _schema() -> xmlschema.XMLSchema:
    spec = importlib.util.find_spec("odmlib")
    assert spec is not None
    assert spec.origin is not None
    return xmlschema.XMLSchema(
        str(Path(spec.origin).parent / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd")
    )


def _changes(before: object, after: object) -> tuple[Change, ...]:
    return tuple(
        Change(f.field, f.old, f.new, f.personal)
        for f in audit.diff(before, after)  # type: ignore[arg-type]
    )


def _event(subject: Subject, n: int, entity: str, entity_id: uuid.UUID, **kw: object) -> Event:
    base = subject.events[-1]
    return dataclasses.replace(
        base,
        position=base.position + n,
        id=uuid.UUID(int=95_000 + n),
        recorded_at=base.recorded_at + timedelta(hours=n),
        actor_kind="STAFF",
        actor_id=COORDINATOR,
        entity_type=entity,
        entity_id=entity_id,
        **kw,  # type: ignore[arg-type]
    )


async def test_safety_records_carry_their_audit_trail_and_reason_code(tmp_path: Path) -> None:
    sample = sample_snapshot()
    subjects = [s async for s in sample.subjects()]
    first = subjects[0]
    recorded = [e for e in first.adverse_events if e.status is AdverseEventStatus.RECORDED]
    ae = recorded[-1]
    fixed = ae.corrected(
        dataclasses.replace(ae.details, severity=Severity.MODERATE),
        ReasonCode.TRANSCRIPTION_ERROR,
        ae.reported_at + timedelta(days=1),
    )
    cm = next(m for m in first.medications if m.status is MedicationStatus.RECORDED)
    dv = first.deviations[0]
    created = _event(first, 1, "AdverseEvent", ae.id, action="created", changes=_changes(None, ae))
    correction = _event(
        first,
        2,
        "AdverseEvent",
        ae.id,
        action="corrected",
        changes=_changes(ae, fixed),
        reason_code=ReasonCode.TRANSCRIPTION_ERROR.value,
        reason=None,
    )
    cm_created = _event(
        first, 3, "ConcomitantMedication", cm.id, action="created", changes=_changes(None, cm)
    )
    dv_created = _event(
        first, 4, "ProtocolDeviation", dv.id, action="created", changes=_changes(None, dv)
    )
    others = tuple(a for a in first.adverse_events if a.id != ae.id)
    changed = dataclasses.replace(
        first,
        adverse_events=(*others, fixed),
        events=(*first.events, created, correction, cm_created, dv_created),
    )
    snapshot = SampleSnapshot(sample.meta, [changed, *subjects[1:]], {})
    directory = tmp_path / "odm"
    directory.mkdir()
    files = await write_odm(snapshot, directory, lambda _: None)
    path = directory / files[0].name
    _schema().validate(str(path))
    text = path.read_text("utf-8")
    root = ET.fromstring(text)
    assert PARTICIPANT_WORDS not in text

    subject = root.find(f".//odm:SubjectData[@SubjectKey='{first.info.subject_id}']", NS)
    assert subject is not None
    safety = subject.find("odm:StudyEventData[@StudyEventOID='SE.SAFETY']", NS)
    assert safety is not None
    group = safety.find(f".//odm:ItemGroupData[@ItemGroupRepeatKey='{ae.id}']", NS)
    assert group is not None
    assert group.attrib["ItemGroupOID"] == "IG.AE"
    severity = group.findall("odm:ItemData[@ItemOID='I.AE.SEVERITY']", NS)
    assert [(i.attrib["TransactionType"], i.attrib["Value"]) for i in severity] == [
        ("Insert", "MILD"),
        ("Update", "MODERATE"),
    ]
    insert, update = (i.find("odm:AuditRecord", NS) for i in severity)
    assert insert is not None
    assert update is not None
    assert insert.findtext("odm:SourceID", namespaces=NS) == str(created.id)
    assert update.findtext("odm:SourceID", namespaces=NS) == str(correction.id)
    assert update.findtext("odm:ReasonForChange", namespaces=NS) == "TRANSCRIPTION_ERROR"
    assert update.find("odm:UserRef", NS) is not None
    assert update.find("odm:LocationRef", NS) is not None
    onset = group.find("odm:ItemData[@ItemOID='I.AE.ONSET']", NS)
    assert onset is not None
    assert onset.attrib["Value"] == ae.details.onset

    # Unconfirmed reports stay out, as in SDTM and FHIR.
    keys = {g.attrib["ItemGroupRepeatKey"] for g in safety.iterfind(".//odm:ItemGroupData", NS)}
    unconfirmed = {a.id for a in first.adverse_events if a.id not in {r.id for r in recorded}}
    assert keys.isdisjoint(str(u) for u in unconfirmed)
    for form, key, event in (("F.CM", cm.id, cm_created), ("F.DV", dv.id, dv_created)):
        found = safety.find(f"odm:FormData[@FormOID='{form}']/odm:ItemGroupData", NS)
        assert found is not None
        records = safety.findall(
            f"odm:FormData[@FormOID='{form}']/odm:ItemGroupData[@ItemGroupRepeatKey='{key}']"
            "//odm:SourceID",
            NS,
        )
        assert str(event.id) in {r.text for r in records}
    terms = safety.findall(
        f".//odm:ItemGroupData[@ItemGroupRepeatKey='{dv.id}']/odm:ItemData[@ItemOID='I.DV.TERM']",
        NS,
    )
    assert [t.attrib["Value"] for t in terms] == [dv.term]
