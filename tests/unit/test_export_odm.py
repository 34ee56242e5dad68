"""The CDISC ODM 1.3.2 archival export: schema-valid, replayable, audited, pseudonymised."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
import xmlschema

from domain.devices import StoredReading
from domain.diaries import DiaryEntry, EntryCode, EntryStatus
from domain.questionnaires import ItemType, QuestionnaireVersion
from infra.exports.model import Event, Meta, RecordSignature, Snapshot, Subject
from infra.exports.odm import write_odm
from tests.export_sample import INVESTIGATOR, SampleSnapshot, sample_snapshot

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
OFFSET = re.compile(r"T\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)$")


def _schema_path() -> Path:
    spec = importlib.util.find_spec("odmlib")
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin).parent / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(_schema_path()))


def _one(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path, NS)
    assert found is not None, path
    return found


async def _subjects(snapshot: Snapshot) -> list[Subject]:
    return [subject async for subject in snapshot.subjects()]


async def _readings(subject: Subject) -> list[StoredReading]:
    return [reading async for reading in subject.readings()]


def _stream(items: list[StoredReading]) -> Callable[[], AsyncIterator[StoredReading]]:
    async def readings() -> AsyncIterator[StoredReading]:
        for item in items:
            yield item

    return readings


@dataclasses.dataclass
class Written:
    path: Path
    text: str
    root: ET.Element
    rows: int
    size: int
    sha256: str
    progress: list[int]
    meta: Meta
    subjects: list[Subject]

    @property
    def events(self) -> dict[uuid.UUID, Event]:
        return {e.id: e for s in self.subjects for e in s.events}

    def item_defs(self) -> dict[str, ET.Element]:
        return {d.attrib["OID"]: d for d in self.root.iterfind(".//odm:ItemDef", NS)}

    def form_data(self, repeat_key: uuid.UUID) -> ET.Element:
        return _one(self.root, f".//odm:FormData[@FormRepeatKey='{repeat_key}']")


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def _write(snapshot: Snapshot, directory: Path) -> Written:
    directory.mkdir()  # noqa: ASYNC240 - a test's scratch directory
    progress: list[int] = []
    files = await write_odm(snapshot, directory, progress.append)
    assert [f.name for f in files] == ["odm.xml"]
    assert _listing(directory) == ["odm.xml"]  # no temporary files left behind
    path = directory / "odm.xml"
    data = path.read_bytes()
    return Written(
        path=path,
        text=data.decode("utf-8"),
        root=ET.fromstring(data),
        rows=files[0].rows,
        size=files[0].bytes,
        sha256=files[0].sha256,
        progress=progress,
        meta=snapshot.meta,
        subjects=await _subjects(snapshot),
    )


@pytest.fixture
async def written(tmp_path: Path) -> Written:
    return await _write(sample_snapshot(), tmp_path / "sample")


# -- a variant of the sample: reasons, a deleted reading, a second valid signature, free text --

NOTE = "Carla said my neighbour Hans Muster visited"
REASON = "Transcription error at site"


async def _variant() -> tuple[SampleSnapshot, dict[str, object]]:
    sample = sample_snapshot()
    subjects = await _subjects(sample)
    first = subjects[0]
    entry = first.entries[0]
    readings = await _readings(first)
    deleted = dataclasses.replace(
        readings[0], deleted_at=readings[0].received_at + timedelta(days=1), deleted_reason="dup"
    )
    orphan = dataclasses.replace(readings[1], batch_id=uuid.UUID(int=123_456))
    top = max(e.position for s in subjects for e in s.events)
    deletion = dataclasses.replace(
        first.events[-1],
        position=top + 1,
        id=uuid.UUID(int=90_001),
        recorded_at=deleted.deleted_at or deleted.received_at,
        entity_type="Reading",
        entity_id=deleted.id,
        action="deleted",
        changes=(),
        reason="Duplicate reading",
    )
    deletion = dataclasses.replace(
        deletion,
        changes=(dataclasses.replace(first.events[0].changes[0], field="deleted_at"),),
    )
    events = tuple(
        dataclasses.replace(e, reason=REASON) if e.action == "corrected" else e
        for e in first.events
    )
    baseline = first.visits[0]
    approval = RecordSignature(
        uuid.UUID(int=90_002),
        INVESTIGATOR,
        "Dr. Ines Vogel",
        "APPROVAL",
        first.events[-1].recorded_at + timedelta(hours=1),
        "Visit",
        baseline.id,
        baseline.version,
        True,
    )
    leaky: DiaryEntry = dataclasses.replace(
        entry, answers={**entry.answers, "NOTE": NOTE}, free_text={"NOTE": NOTE}
    )
    quarantined = dataclasses.replace(
        first.entries[1], status=EntryStatus.QUARANTINED, quarantine_code=EntryCode.WINDOW_CLOSED
    )
    changed = dataclasses.replace(
        first,
        entries=(leaky, quarantined, *first.entries[2:]),
        events=(*events, deletion),
        signatures=(*first.signatures, approval),
        readings=_stream([deleted, orphan, *readings[2:]]),
    )
    facts: dict[str, object] = {
        "deleted": deleted.id,
        "deletion_event": deletion.id,
        "orphan": orphan.id,
        "batch_event": next(e.id for e in first.events if e.entity_type == "ReadingBatch"),
        "visit": baseline.id,
        "quarantined": quarantined.id,
    }
    return SampleSnapshot(sample.meta, [changed, *subjects[1:]], {}), facts


# -- the file --------------------------------------------------------------------------------


async def test_the_file_is_valid_against_the_odm_1_3_2_schema(
    written: Written, schema: xmlschema.XMLSchema, tmp_path: Path
) -> None:
    schema.validate(str(written.path))
    variant, _ = await _variant()
    schema.validate(str((await _write(variant, tmp_path / "variant")).path))


def test_written_file_reports_rows_bytes_and_hash(written: Written) -> None:
    data = written.path.read_bytes()
    assert written.size == len(data)
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    # rows are ItemGroupData elements; progress reported the same number
    assert written.rows == len(written.root.findall(".//odm:ItemGroupData", NS))
    assert sum(written.progress) == written.rows


def test_root_declares_an_archival_transactional_odm_1_3_2_file(written: Written) -> None:
    root = written.root
    assert root.tag == f"{ODM}ODM"
    assert root.attrib["FileType"] == "Transactional"
    assert root.attrib["Archival"] == "Yes"
    assert root.attrib["Granularity"] == "All"
    assert root.attrib["ODMVersion"] == "1.3.2"
    assert root.attrib["Originator"] == root.attrib["SourceSystem"] == "Hearth"
    assert root.attrib["FileOID"] == f"EXPORT.{written.meta.export_id}"
    assert root.attrib["CreationDateTime"] == "2026-04-11T08:00:00+00:00"
    assert "Upsert" not in written.text  # archival files have no Upsert transactions


async def test_output_is_deterministic(tmp_path: Path) -> None:
    snapshot = sample_snapshot()
    one = await _write(snapshot, tmp_path / "one")
    two = await _write(snapshot, tmp_path / "two")
    assert one.sha256 == two.sha256


# -- metadata ----------------------------------------------------------------------------------


def test_questionnaire_versions_map_to_forms_items_and_code_lists(written: Written) -> None:
    forms = {f.attrib["OID"] for f in written.root.iterfind(".//odm:FormDef", NS)}
    assert {"F.SYMPTOMS.V1", "F.SYMPTOMS.V2"} <= forms
    defs = written.item_defs()
    types = {oid.removeprefix("I.SYMPTOMS.V1."): d.attrib["DataType"] for oid, d in defs.items()}
    assert types["MOOD"] == "text"
    assert types["WHERE.HEAD"] == types["WHERE.BACK"] == "boolean"
    assert types["SLEEP"] == types["PAIN"] == "integer"
    assert types["WEIGHT"] == types["NAUSEA"] == "float"
    assert (types["ONSET"], types["PILL"], types["WOKE"]) == ("date", "time", "datetime")
    assert types["NOTE"] == "text"  # described, never given a value

    sleep = defs["I.SYMPTOMS.V1.SLEEP"]
    checks = {
        (r.attrib["Comparator"], r.findtext("odm:CheckValue", namespaces=NS))
        for r in sleep.iterfind("odm:RangeCheck", NS)
    }
    assert checks == {("GE", "0"), ("LE", "24")}
    unit = _one(sleep, "odm:MeasurementUnitRef")
    assert unit.attrib["MeasurementUnitOID"] == "MU.h"
    question = {t.attrib[XML_LANG]: t.text for t in sleep.iterfind("odm:Question/*", NS)}
    assert question == {"de": "Stunden Schlaf", "en": "Hours slept"}

    mood = defs["I.SYMPTOMS.V1.MOOD"]
    ref = _one(mood, "odm:CodeListRef")
    codelist = _one(written.root, f".//odm:CodeList[@OID='{ref.attrib['CodeListOID']}']")
    decodes = {
        (item.attrib["CodedValue"], text.attrib[XML_LANG]): text.text
        for item in codelist.iterfind("odm:CodeListItem", NS)
        for text in item.iterfind("odm:Decode/odm:TranslatedText", NS)
    }
    assert decodes[("BAD", "de")] == "Schlecht"
    assert decodes[("GOOD", "en")] == "Good"


def test_the_entry_code_list_holds_only_the_quarantine_codes(written: Written) -> None:
    codelist = _one(written.root, ".//odm:CodeList[@OID='CL.ENTRY_CODE']")
    coded = [item.attrib["CodedValue"] for item in codelist.iterfind("odm:CodeListItem", NS)]
    assert coded == [
        "WINDOW_CLOSED",
        "OLDER_VERSION",
        "ANSWERED_ALREADY",
        "CONSENT_SUPERSEDED",
    ]


def test_every_reference_resolves(written: Written) -> None:
    root = written.root

    def oids(tag: str) -> set[str]:
        return {e.attrib["OID"] for e in root.iterfind(f".//odm:{tag}", NS)}

    def refs(tag: str, attribute: str) -> set[str]:
        return {e.attrib[attribute] for e in root.iterfind(f".//odm:{tag}", NS)}

    assert refs("ItemData", "ItemOID") <= oids("ItemDef")
    assert refs("ItemRef", "ItemOID") <= oids("ItemDef")
    assert refs("ItemGroupData", "ItemGroupOID") <= oids("ItemGroupDef")
    assert refs("ItemGroupRef", "ItemGroupOID") <= oids("ItemGroupDef")
    assert refs("FormData", "FormOID") <= oids("FormDef")
    assert refs("FormRef", "FormOID") <= oids("FormDef")
    assert refs("StudyEventData", "StudyEventOID") <= oids("StudyEventDef")
    assert refs("CodeListRef", "CodeListOID") <= oids("CodeList")
    assert refs("MeasurementUnitRef", "MeasurementUnitOID") <= oids("MeasurementUnit")
    assert refs("UserRef", "UserOID") <= oids("User")
    assert refs("LocationRef", "LocationOID") | refs("SiteRef", "LocationOID") <= oids("Location")
    assert refs("SignatureRef", "SignatureOID") <= oids("SignatureDef")


def test_admin_data_has_users_sites_and_signature_meanings(written: Written) -> None:
    users = {u.attrib["OID"]: u for u in written.root.iterfind(".//odm:User", NS)}
    assert users[f"USR.{INVESTIGATOR}"].findtext("odm:FullName", namespaces=NS) == (
        "Dr. Ines Vogel"
    )
    participant = users["USR.SUBJECT.K7Q2-9XHD"]
    assert list(participant) == []  # a participant user has no name at all
    locations = {
        loc.attrib["OID"]: loc.attrib["Name"]
        for loc in written.root.iterfind(".//odm:Location", NS)
    }
    assert locations == {"LOC.BER": "Charité Berlin", "LOC.BOS": "Boston Clinic"}
    review = _one(written.root, ".//odm:SignatureDef[@OID='SD.REVIEW']")
    assert review.attrib["Methodology"] == "Electronic"
    assert review.findtext("odm:Meaning", namespaces=NS) == "I have reviewed this record."
    assert review.findtext("odm:LegalReason", namespaces=NS) == "21 CFR Part 11"


# -- clinical data and its audit trail -------------------------------------------------------


def _replay(group: ET.Element) -> dict[str, str]:
    """Apply the group's ItemData transactions in document order."""
    state: dict[str, str] = {}
    for item in group.iterfind("odm:ItemData", NS):
        oid, kind = item.attrib["ItemOID"], item.attrib["TransactionType"]
        if kind == "Insert":
            assert oid not in state, f"{oid} inserted twice"
            state[oid] = item.attrib["Value"]
        elif kind == "Update":
            assert oid in state, f"{oid} updated before its insert"
            state[oid] = item.attrib["Value"]
        else:
            assert kind == "Remove"
            del state[oid]
    return state


def _expected_answers(version: QuestionnaireVersion, entry: DiaryEntry) -> dict[str, str]:
    expected: dict[str, str] = {}
    for item in version.items:
        oid = f"I.{version.code}.V{version.version}.{item.code}"
        answer = entry.answers.get(item.code)
        if answer is None or item.type is ItemType.FREE_TEXT:
            continue
        if item.type is ItemType.MULTIPLE_CHOICE:
            assert isinstance(answer, list)
            for choice in item.choices:
                expected[f"{oid}.{choice.code}"] = "true" if choice.code in answer else "false"
        elif item.type is ItemType.TIME:
            expected[oid] = f"{answer}:00" if len(str(answer)) == 5 else str(answer)
        else:
            expected[oid] = str(answer)
    return expected


def test_replaying_the_corrected_entry_gives_its_current_answers(written: Written) -> None:
    subject = written.subjects[0]
    entry = subject.entries[0]
    corrected = [e for e in subject.events if e.entity_id == entry.id]
    submitted, correction = corrected[0], corrected[-1]
    assert correction.action == "corrected"
    version = written.meta.questionnaires[0].definition
    answers = _one(written.form_data(entry.id), "odm:ItemGroupData[@ItemGroupOID='IG.SYMPTOMS.V1']")

    assert _replay(answers) == _expected_answers(version, entry)

    pain = [
        (
            item.attrib["TransactionType"],
            item.findtext("odm:AuditRecord/odm:SourceID", namespaces=NS),
        )
        for item in answers.iterfind("odm:ItemData[@ItemOID='I.SYMPTOMS.V1.PAIN']", NS)
    ]
    assert pain == [("Insert", str(submitted.id)), ("Update", str(correction.id))]
    # document order is event order across the whole group
    positions = [
        written.events[uuid.UUID(s.text or "")].position
        for s in answers.iterfind("odm:ItemData/odm:AuditRecord/odm:SourceID", NS)
    ]
    assert positions == sorted(positions)


def test_every_group_replays_to_the_records_state(written: Written) -> None:
    for group in written.root.iterfind(".//odm:ItemGroupData", NS):
        _replay(group)  # asserts the transactions are well-formed
    baseline = written.subjects[0].visits[0]
    visit = _one(
        written.root,
        f".//odm:StudyEventData[@StudyEventRepeatKey='{baseline.id}']//odm:ItemGroupData",
    )
    state = _replay(visit)
    assert state["I.VISIT.STATUS"] == "COMPLETED"
    assert state["I.VISIT.OUTCOME"] == "DONE"
    assert state["I.VISIT.MODE"] == "VIDEO"
    assert state["I.VISIT.SCHEDULED_START"] == "2026-03-02T09:00:00+01:00"  # Berlin wall time
    assert state["I.VISIT.OUT_OF_WINDOW"] == "false"
    week = written.subjects[0].visits[2]
    out_of_window = _one(
        written.root, f".//odm:StudyEventData[@StudyEventRepeatKey='{week.id}']//odm:ItemGroupData"
    )
    assert _replay(out_of_window)["I.VISIT.OUT_OF_WINDOW"] == "true"
    consent = written.subjects[0].consents[0]
    signed = _replay(_one(written.form_data(consent.id), "odm:ItemGroupData"))
    assert signed == {
        "I.CONSENT.VERSION": "1",
        "I.CONSENT.LANGUAGE": "en",
        "I.CONSENT.SIGNED_AT": "2026-02-21T08:00:00+00:00",
    }


def test_every_item_has_an_audit_record_from_the_event_log(written: Written) -> None:
    events = written.events
    groups = written.root.findall(".//odm:ItemGroupData", NS)
    assert groups
    for group in groups:  # an ItemData's own AuditRecord, or its group's (readings)
        inherited = group.find("odm:AuditRecord", NS) is not None
        for item in group.findall("odm:ItemData", NS):
            assert inherited or item.find("odm:AuditRecord", NS) is not None, item.attrib
    records = written.root.findall(".//odm:AuditRecord", NS)
    for record in records:
        source = record.findtext("odm:SourceID", namespaces=NS)
        assert uuid.UUID(source or "") in events
        stamp = record.findtext("odm:DateTimeStamp", namespaces=NS) or ""
        assert OFFSET.search(stamp), stamp
        assert record.find("odm:ReasonForChange", NS) is None  # no event of the sample has one


async def test_reasons_deletions_and_batch_fallback(tmp_path: Path) -> None:
    variant, facts = await _variant()
    written = await _write(variant, tmp_path / "variant")
    reasons = {
        r.findtext("odm:SourceID", namespaces=NS): r.findtext("odm:ReasonForChange", namespaces=NS)
        for r in written.root.iterfind(".//odm:AuditRecord", NS)
        if r.find("odm:ReasonForChange", NS) is not None
    }
    correction = next(e for e in written.subjects[0].events if e.action == "corrected")
    assert reasons == {
        str(correction.id): REASON,
        str(facts["deletion_event"]): "Duplicate reading",
    }

    deleted = _one(written.root, f".//odm:ItemGroupData[@ItemGroupRepeatKey='{facts['deleted']}']")
    inherited = deleted.findtext("odm:AuditRecord/odm:SourceID", namespaces=NS)
    flags = [
        (
            i.attrib["TransactionType"],
            i.attrib["Value"],
            i.findtext(".//odm:SourceID", namespaces=NS) or inherited,
        )
        for i in deleted.iterfind("odm:ItemData[@ItemOID='I.RD.DELETED']", NS)
    ]
    batch = str(facts["batch_event"])
    assert flags == [("Insert", "false", batch), ("Update", "true", str(facts["deletion_event"]))]

    orphan = _one(written.root, f".//odm:ItemGroupData[@ItemGroupRepeatKey='{facts['orphan']}']")
    # no event names its batch: the latest batch event before it was received
    assert {s.text for s in orphan.iterfind(".//odm:SourceID", NS)} == {batch}


def test_readings_are_item_groups_with_units_and_originals(written: Written) -> None:
    subject = written.subjects[0]
    groups = written.root.findall(".//odm:ItemGroupData[@ItemGroupRepeatKey]", NS)
    readings = {
        g.attrib["ItemGroupRepeatKey"]: g
        for g in groups
        if g.attrib["ItemGroupOID"].startswith("IG.RD.")
    }
    batch = next(e for e in subject.events if e.entity_type == "ReadingBatch")
    kinds = set()
    for reading_id, group in readings.items():
        kinds.add(group.attrib["ItemGroupOID"])
        assert {s.text for s in group.iterfind(".//odm:SourceID", NS)} <= {
            str(e.id) for s in written.subjects for e in s.events if e.entity_type == "ReadingBatch"
        }
        uuid.UUID(reading_id)
    assert len(kinds) == 7
    weight = next(g for g in groups if g.attrib["ItemGroupOID"] == "IG.RD.BODY_WEIGHT")
    values = _replay(weight)
    assert values["I.RD.BODY_WEIGHT.BODY_WEIGHT"] == "69.99"
    assert values["I.RD.BODY_WEIGHT.BODY_WEIGHT.ORIGINAL_VALUE"] == "154.3"
    assert values["I.RD.BODY_WEIGHT.BODY_WEIGHT.ORIGINAL_UNIT"] == "[lb_av]"
    assert values["I.RD.SOURCE_ID"] == "body_weight-3"
    assert values["I.RD.DELETED"] == "false"
    assert "I.RD.END" not in values
    unit = _one(
        weight, "odm:ItemData[@ItemOID='I.RD.BODY_WEIGHT.BODY_WEIGHT']/odm:MeasurementUnitRef"
    )
    assert unit.attrib["MeasurementUnitOID"] == "MU.kg"
    steps = next(g for g in groups if g.attrib["ItemGroupOID"] == "IG.RD.STEP_COUNT")
    interval = _replay(steps)
    assert (interval["I.RD.START"], interval["I.RD.END"]) == (
        "2026-03-02T11:00:00+00:00",
        "2026-03-02T12:00:00+00:00",
    )
    assert {s.text for s in weight.iterfind(".//odm:SourceID", NS)} == {str(batch.id)}


def test_signatures_sit_on_the_signed_records(written: Written) -> None:
    subject = written.subjects[0]
    baseline = subject.visits[0]
    visit = _one(written.root, f".//odm:StudyEventData[@StudyEventRepeatKey='{baseline.id}']")
    signature = _one(visit, "odm:Signature")
    assert _one(signature, "odm:UserRef").attrib["UserOID"] == f"USR.{INVESTIGATOR}"
    assert _one(signature, "odm:SignatureRef").attrib["SignatureOID"] == "SD.REVIEW"
    assert OFFSET.search(signature.findtext("odm:DateTimeStamp", namespaces=NS) or "")

    entry = written.form_data(subject.entries[0].id)
    assert entry.find("odm:Signature", NS) is None  # its only signature was invalidated
    note = entry.findtext("odm:Annotation/odm:Comment", namespaces=NS) or ""
    assert note.startswith("Invalidated signature: RESPONSIBILITY")

    consent = written.form_data(subject.consents[0].id)
    signer = _one(consent, "odm:Signature/odm:UserRef")
    assert signer.attrib["UserOID"] == "USR.SUBJECT.K7Q2-9XHD"


async def test_quarantined_entries_are_kept(tmp_path: Path) -> None:
    variant, facts = await _variant()
    written = await _write(variant, tmp_path / "variant")
    entry = written.form_data(uuid.UUID(str(facts["quarantined"])))
    state = _replay(_one(entry, "odm:ItemGroupData[@ItemGroupOID='IG.DIARY.ENTRY']"))
    assert state["I.DIARY.STATUS"] == "QUARANTINED"
    assert state["I.DIARY.QUARANTINE_CODE"] == "WINDOW_CLOSED"
    answers = _replay(_one(entry, "odm:ItemGroupData[@ItemGroupOID='IG.SYMPTOMS.V1']"))
    assert answers["I.SYMPTOMS.V1.MOOD"] == "BAD"


async def test_a_further_valid_signature_repeats_the_signed_element(tmp_path: Path) -> None:
    variant, facts = await _variant()
    written = await _write(variant, tmp_path / "variant")
    visits = written.root.findall(
        f".//odm:StudyEventData[@StudyEventRepeatKey='{facts['visit']}']", NS
    )
    assert [v.attrib["TransactionType"] for v in visits] == ["Insert", "Update"]
    meanings = [_one(v, "odm:Signature/odm:SignatureRef").attrib["SignatureOID"] for v in visits]
    assert meanings == ["SD.REVIEW", "SD.APPROVAL"]
    assert visits[1].find("odm:FormData", NS) is None


# -- pseudonymisation and time ---------------------------------------------------------------


async def test_no_free_text_no_internal_ids_and_names_only_for_users(tmp_path: Path) -> None:
    variant, _ = await _variant()
    written = await _write(variant, tmp_path / "variant")
    assert NOTE not in written.text
    assert "Hans" not in written.text
    assert "I.SYMPTOMS.V1.NOTE" in written.item_defs()
    assert written.root.find(".//odm:ItemData[@ItemOID='I.SYMPTOMS.V1.NOTE']", NS) is None
    for subject in written.subjects:
        assert str(subject.info.id) not in written.text
        assert str(subject.info.id).replace("-", "") not in written.text
    names = [e.text for e in written.root.iterfind(".//odm:FullName", NS)]
    for name in written.meta.staff.values():
        assert written.text.count(name) == names.count(name) == 1
    assert written.root.find(".//odm:SubjectData[@SubjectKey='K7Q2-9XHD']", NS) is not None


def test_timestamps_carry_offsets(written: Written) -> None:
    root = written.root
    stamps = [root.attrib["CreationDateTime"], root.attrib["AsOfDateTime"]]
    stamps += [e.text or "" for e in root.iterfind(".//odm:DateTimeStamp", NS)]
    datetimes = {
        oid for oid, d in written.item_defs().items() if d.attrib["DataType"] == "datetime"
    }
    values = [
        i.attrib["Value"]
        for i in root.iterfind(".//odm:ItemData", NS)
        if i.attrib["ItemOID"] in datetimes and "Value" in i.attrib
    ]
    assert len(values) > 20
    for stamp in stamps + values:
        assert OFFSET.search(stamp), stamp


def test_an_invalidated_signature_is_exported_as_invalidated(written: Written) -> None:
    """Issue 14 7b: its state is data (version signed, version now, the invalidating event),
    never a <Signature> that a reviewer's tool would take for valid."""
    subject = written.subjects[0]
    entry = subject.entries[0]
    invalid = next(s for s in subject.signatures if not s.valid)
    correction = [e for e in subject.events if e.entity_id == entry.id][-1]  # its latest change
    form = written.form_data(invalid.id)
    assert form.attrib["FormOID"] == "F.SIGNATURE"
    group = _one(form, "odm:ItemGroupData")
    state = _replay(group)
    assert state == {
        "I.SIG.RECORD_TYPE": "DiaryEntry",
        "I.SIG.RECORD_KEY": str(entry.id),
        "I.SIG.MEANING": "RESPONSIBILITY",
        "I.SIG.SIGNED_AT": invalid.signed_at.isoformat(),
        "I.SIG.SIGNED_VERSION": "1",
        "I.SIG.CURRENT_VERSION": "2",
        "I.SIG.STATE": "INVALIDATED",
        "I.SIG.INVALIDATED_BY": str(correction.id),
    }
    update = _one(group, "odm:ItemData[@ItemOID='I.SIG.STATE'][@TransactionType='Update']")
    assert update.findtext("odm:AuditRecord/odm:SourceID", namespaces=NS) == str(correction.id)
    signed = [
        s.findtext("odm:DateTimeStamp", namespaces=NS)
        for s in written.root.iterfind(".//odm:Signature", NS)
    ]
    assert invalid.signed_at.isoformat() not in signed
    valid = next(s for s in subject.signatures if s.valid and s.record_type == "Visit")
    assert _replay(_one(written.form_data(valid.id), "odm:ItemGroupData"))["I.SIG.STATE"] == "VALID"
