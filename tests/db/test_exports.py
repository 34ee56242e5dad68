"""Exports from a real database: snapshot, formats, signed manifest, audit, tamper checks."""

from __future__ import annotations

import base64
import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import cast

import odmlib
import pytest
import rfc8785
import xmlschema
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fhir.resources.R4B import get_fhir_model_class

from api import app
from domain.actors import Actor, ActorKind, Grant, Role
from domain.adverse_events import AdverseEventDetails, Seriousness
from domain.deviations import DeviationCategory, DeviationSeverity
from domain.errors import DomainError, ErrorCode
from domain.exports import ExportFormat, ExportJob, ExportStatus
from domain.medications import Frequency, MedicationDetails, Route
from domain.pagination import PageRequest
from domain.participants import ParticipantStatus
from domain.readings import ReadingKind
from domain.services import (
    adverse_events,
    contacts,
    devices,
    exports,
    participants,
    quarantine,
    readings,
    trail,
)
from domain.services import deviations as deviation_cases
from domain.services import medications as medication_cases
from domain.services.adverse_events import ClinicalUnitOfWork
from domain.services.medications import MedicationUnitOfWork
from domain.trail import TrailQuery
from infra.crypto import signing
from infra.exports import engine as export_engine
from infra.exports.manifest import verify_export
from infra.exports.model import Progress, Snapshot, WrittenFile
from tests.clock import CLOCK
from tests.conftest import Scratch
from tests.factories import admin, caller
from tests.world import (
    CORRECTION_REASON,
    DELETE_REASON,
    DIARY_TEXT,
    PEOPLE,
    PROXY_REASON,
    REASON,
    World,
    add_diary,
    build_world,
)

ODM_XSD = Path(odmlib.__file__).parent / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"


async def _export(scratch: Scratch, world: World, format: ExportFormat, out: Path) -> ExportJob:
    """Request an export, then run the worker's task for it here (tests/db/test_worker.py
    runs it through a real worker)."""
    services = scratch.runtime.services
    ctx = caller(admin())
    job = await exports.start(
        uow=services.uow(), ctx=ctx, study_id=world.study.id, format=format, limit=100
    )
    done = await exports.run(
        uows=services.uow,
        engine=scratch.runtime.export_engine,
        ctx=ctx,
        job_id=job.id,
        directory=str(out),
    )
    assert done is not None
    return done


@pytest.fixture
async def world(scratch: Scratch) -> World:
    built = await build_world(scratch.runtime.services.uow)
    await add_diary(scratch.runtime.services.uow, built)
    return built


def _key(scratch: Scratch) -> object:
    return export_engine.export_signing_key(scratch.runtime.keys).public_key()


async def test_every_format_is_valid_pseudonymised_and_signed(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    basis = f"GDPR Art. 17, asked by {PEOPLE[1]['full_name']} on +44 20 7946 0958"
    await contacts.erase_participant(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        participant_id=world.people[1].id,
        legal_basis=basis,
    )
    secrets = [DIARY_TEXT, *(p["full_name"] for p in PEOPLE), *(p["email"] for p in PEOPLE)]
    secrets += [str(p.id) for p in world.people] + [p.screening_number or "" for p in world.people]
    secrets += [REASON, PROXY_REASON, CORRECTION_REASON, DELETE_REASON, basis, "7946 0958"]
    for format in ExportFormat:
        out = tmp_path / format.value
        job = await _export(scratch, world, format, out)
        assert job.status is ExportStatus.DONE
        assert job.log_position is not None
        assert job.log_position > 0
        report = verify_export(out, _key(scratch))  # type: ignore[arg-type]
        assert report.ok, report.problems
        assert report.manifest["eventLog"]["position"] == job.log_position
        text = "\n".join(p.read_text() for p in out.iterdir())
        leaked = [s for s in secrets if s.lower() in text.lower()]
        assert not leaked, (format, leaked)
        assert world.people[0].subject_id in text  # pseudonymous, and present
    schema = xmlschema.XMLSchema(str(ODM_XSD))
    schema.validate(str(tmp_path / "ODM" / "odm.xml"))
    for path in (tmp_path / "FHIR").glob("*.ndjson"):
        model = get_fhir_model_class(path.stem)
        for line in path.read_text().splitlines():
            model.model_validate_json(line)
    # The world's one reading was deleted with a reason: out of the analysis dataset, kept in
    # FHIR as entered-in-error, and in ODM's archive.
    with (tmp_path / "SDTM" / "VS.csv").open(newline="") as handle:
        assert list(csv.DictReader(handle)) == []
    (observation,) = (tmp_path / "FHIR" / "Observation.ndjson").read_text().splitlines()
    assert json.loads(observation)["status"] == "entered-in-error"
    with (tmp_path / "SDTM" / "QS.csv").open(newline="") as handle:
        answers = {(r["QSTESTCD"], r["QSORRES"]) for r in csv.DictReader(handle)}
    assert ("SEVERITY", "5") in answers  # the corrected value
    assert ("SEVERITY", "2") in answers  # the entry the site entered for her


async def test_an_export_is_a_snapshot_at_one_log_position(
    scratch: Scratch, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that commits while the export runs is not in it, and comes after its position."""
    real = export_engine.WRITERS[ExportFormat.SDTM]
    services = scratch.runtime.services
    coordinator = caller(world.coordinator)

    async def write_while_exporting(
        snapshot: Snapshot, directory: Path, progress: Progress
    ) -> list[WrittenFile]:
        monkeypatch.setitem(export_engine.WRITERS, ExportFormat.SDTM, real)
        await devices.register(
            uow=services.uow(),
            ctx=coordinator,
            site_id=world.site.id,
            kinds=(ReadingKind.BODY_WEIGHT,),
            model="Scale",
            serial="LATE-1",
        )
        return await real(snapshot, directory, progress)

    monkeypatch.setitem(export_engine.WRITERS, ExportFormat.SDTM, write_while_exporting)
    job = await _export(scratch, world, ExportFormat.SDTM, tmp_path / "out")
    await scratch.runtime.seal_checkpoints()  # positions are given when events are sequenced
    events = await trail.audit_trail(
        uow=services.uow(),
        ctx=caller(admin()),
        query=TrailQuery(entity_type="Device", newest_first=True),
        request=PageRequest(first=1),
    )
    (late,) = events.items
    assert job.log_position is not None
    assert late.position is not None
    assert late.position > job.log_position
    before = await _export(scratch, world, ExportFormat.SDTM, tmp_path / "again")
    assert before.log_position is not None
    assert before.log_position > late.position


async def test_exports_are_audited_and_only_for_the_sponsor_side(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    services = scratch.runtime.services
    with pytest.raises(DomainError) as raised:
        await exports.start(
            uow=services.uow(),
            ctx=caller(world.coordinator),
            study_id=world.study.id,
            format=ExportFormat.FHIR,
        )
    assert raised.value.code is ErrorCode.FORBIDDEN
    job = await _export(scratch, world, ExportFormat.FHIR, tmp_path / "fhir")
    await exports.download(
        uow=services.uow(), ctx=caller(admin()), job_id=job.id, name="Observation.ndjson"
    )
    events = await trail.audit_trail(
        uow=services.uow(),
        ctx=caller(admin()),
        query=TrailQuery(entity_id=job.id),
        request=PageRequest(),
    )
    assert [e.action for e in events.items] == ["created", "completed", "downloaded"]
    completed = {f.field: f.new.value for f in events.items[1].fields}
    assert completed["log_position"] == job.log_position
    assert completed["manifest_sha256"] == job.manifest_sha256


async def test_verify_finds_any_changed_byte_missing_file_or_forged_signature(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    original = tmp_path / "original"
    await _export(scratch, world, ExportFormat.SDTM, original)
    key = _key(scratch)

    def tampered(name: str, change: object) -> list[str]:
        copy = tmp_path / name
        shutil.copytree(original, copy)
        change(copy)  # type: ignore[operator]
        return verify_export(copy, key).problems  # type: ignore[arg-type]

    def flip(copy: Path) -> None:
        data = bytearray((copy / "DM.csv").read_bytes())
        data[-3] ^= 0x01
        (copy / "DM.csv").write_bytes(bytes(data))

    def forge(copy: Path) -> None:
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["eventLog"]["position"] += 1
        (copy / "manifest.json").write_text(json.dumps(manifest))

    def resign(copy: Path) -> None:  # a valid signature, by someone else's key
        other = Ed25519PrivateKey.generate()
        body = (copy / "manifest.json").read_bytes()
        (copy / "manifest.sig").write_bytes(
            rfc8785.dumps(
                {
                    "algorithm": "Ed25519",
                    "keyId": signing.key_id(other),
                    "signature": base64.b64encode(other.sign(body)).decode(),
                }
            )
        )

    def reformat(copy: Path) -> None:  # the same signature, other bytes
        sealed = json.loads((copy / "manifest.sig").read_text())
        (copy / "manifest.sig").write_text(json.dumps(sealed, indent=2))

    assert any("DM.csv: changed" in p for p in tampered("flip", flip))
    assert any("VS.csv: missing" in p for p in tampered("gone", lambda c: (c / "VS.csv").unlink()))
    assert any(
        "not in the manifest" in p
        for p in tampered("extra", lambda c: (c / "x.csv").write_text("1"))
    )
    assert tampered("forged", forge) == ["the manifest's signature does not verify"]
    assert tampered("resigned", resign) == ["signed with another key than the one trusted"]
    assert tampered("reformatted", reformat) == [
        "manifest.sig: not as signed (changed or not canonical)"
    ]
    assert any("not in the manifest" in p for p in tampered("dir", lambda c: (c / "d").mkdir()))
    assert verify_export(original, key).ok  # type: ignore[arg-type]
    # The command line does the same, with the key file or a PEM key.
    assert app.verify_exported(original, scratch.settings, None).ok
    assert not app.verify_exported(tmp_path / "flip", scratch.settings, None).ok


async def test_progress_is_reported_as_the_export_runs(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    services = scratch.runtime.services
    ctx = caller(admin())
    job = await exports.start(
        uow=services.uow(), ctx=ctx, study_id=world.study.id, format=ExportFormat.ODM
    )
    done = await exports.run(
        uows=services.uow,
        engine=scratch.runtime.export_engine,
        ctx=ctx,
        job_id=job.id,
        directory=str(tmp_path / "odm"),
        observe=lambda d, t: seen.append((d, t)),
    )
    assert seen
    assert seen[-1][0] >= seen[-1][1] > 0
    assert done is not None
    assert done.progress() == 1.0


async def test_quarantined_and_rejected_readings_stay_out_of_analyses_and_in_the_archive(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    """Like quarantined diary entries: out of FHIR Observations and SDTM VS, kept in ODM with
    their status at receipt and the review as an audited Update."""
    uow, staff = scratch.runtime.services.uow, caller(world.coordinator)
    person = world.people[0]
    app = caller(
        Actor(
            ActorKind.PARTICIPANT,
            person.id,
            (Grant(Role.PARTICIPANT, world.study.id, world.site.id),),
        )
    )
    spare = await devices.register(
        uow=uow(),
        ctx=staff,
        site_id=world.site.id,
        kinds=(ReadingKind.HEART_RATE,),
        model="Spare watch",
        serial="SPARE-1",
    )
    CLOCK.advance(minutes=30)
    done = await readings.ingest(
        uow=uow(),
        ctx=app,
        items=[
            {
                "deviceId": str(spare.id),
                "kind": "HEART_RATE",
                "sourceId": f"spare-{n}",
                "body": {
                    "heart_rate": {"value": 60 + n, "unit": "/min"},
                    "effective_time_frame": {
                        "date_time": (CLOCK.now() - timedelta(minutes=n + 1)).isoformat()
                    },
                },
            }
            for n in range(3)
        ],
    )
    held, accepted, rejected = [i.reading_id for i in done.items if i.reading_id is not None]
    assert {item.code for item in done.items} == {"OUTSIDE_ASSIGNMENT"}
    await quarantine.accept(uow=uow(), ctx=staff, reading_id=accepted, reason="Her spare")
    await quarantine.reject(uow=uow(), ctx=staff, reading_id=rejected, reason="Not hers")
    for format in ExportFormat:
        await _export(scratch, world, format, tmp_path / format.value)
    lines = (tmp_path / "FHIR" / "Observation.ndjson").read_text().splitlines()
    observed = {json.loads(line)["id"] for line in lines}
    assert str(accepted) in observed
    assert not {str(held), str(rejected)} & observed
    provenance = (tmp_path / "FHIR" / "Provenance.ndjson").read_text()
    assert f"Observation/{rejected}" not in provenance  # a logical reference: not exported
    assert f"Observation/{accepted}" in provenance
    with (tmp_path / "SDTM" / "VS.csv").open(newline="") as handle:
        assert [r["VSSPID"] for r in csv.DictReader(handle)] == ["spare-1"]
    xmlschema.XMLSchema(str(ODM_XSD)).validate(str(tmp_path / "ODM" / "odm.xml"))
    odm = (tmp_path / "ODM" / "odm.xml").read_text()
    for reading, status in ((held, None), (accepted, "ACCEPTED"), (rejected, "REJECTED")):
        group = odm.split(f'ItemGroupRepeatKey="{reading}"')[1].split("</ItemGroupData>")[0]
        assert 'ItemOID="I.RD.STATUS" TransactionType="Insert" Value="QUARANTINED"' in group
        assert 'ItemOID="I.RD.QUARANTINE_CODE" TransactionType="Insert"' in group
        update = f'ItemOID="I.RD.STATUS" TransactionType="Update" Value="{status}"'
        assert (update in group) is (status is not None)


async def test_age_comes_from_the_sealed_birth_date_which_is_never_exported(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    """DM.AGE is computed at the reference start inside the export; the date of birth is in
    no file of any format (the SDTM datasets and their Dataset-JSON twins)."""
    for format in (ExportFormat.SDTM, ExportFormat.DATASET_JSON):
        job = await _export(scratch, world, format, tmp_path / format.value)
        assert job.status is ExportStatus.DONE
        assert verify_export(tmp_path / format.value, _key(scratch)).ok  # type: ignore[arg-type]
    with (tmp_path / "SDTM" / "DM.csv").open(newline="") as handle:
        dm = {r["SUBJID"]: r for r in csv.DictReader(handle)}
    born = PEOPLE[0]["date_of_birth"]
    enrolled = dm[world.people[0].subject_id]
    start = date.fromisoformat(enrolled["RFSTDTC"])
    before_birthday = (start.month, start.day) < (born.month, born.day)
    assert enrolled["AGE"] == str(start.year - born.year - before_birthday)
    assert enrolled["AGEU"] == "YEARS"
    assert dm[world.people[1].subject_id]["AGE"] == ""  # never enrolled: no reference start
    dm_json = json.loads((tmp_path / "DATASET_JSON" / "dm.json").read_text())
    ages = [row[[c["name"] for c in dm_json["columns"]].index("AGE")] for row in dm_json["rows"]]
    assert int(enrolled["AGE"]) in ages
    for person in PEOPLE:
        birth = person["date_of_birth"]
        folders = (tmp_path / f.value for f in (ExportFormat.SDTM, ExportFormat.DATASET_JSON))
        for text in (p.read_text() for d in folders for p in d.iterdir()):
            assert birth.isoformat() not in text
            assert birth.strftime("%d.%m.%Y") not in text


async def test_adverse_events_the_site_recorded_are_in_sdtm_ae_and_fhir(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    """The snapshot reads adverse events from the database; AE.csv, ae.json and
    AdverseEvent.ndjson carry what the site recorded."""
    details = AdverseEventDetails(
        term="Pneumonia",
        onset="2026-06",
        seriousness=(Seriousness.HOSPITALISATION,),
        pt_code="10035664",
        pt_name="Pneumonia",
    )
    await adverse_events.record(
        uow=cast(ClinicalUnitOfWork, scratch.runtime.services.uow()),
        ctx=caller(world.coordinator),
        participant_id=world.people[0].id,
        details=details,
    )
    for format in (ExportFormat.SDTM, ExportFormat.DATASET_JSON, ExportFormat.FHIR):
        job = await _export(scratch, world, format, tmp_path / format.value)
        assert job.status is ExportStatus.DONE
    with (tmp_path / "SDTM" / "AE.csv").open(newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["USUBJID"].endswith(world.people[0].subject_id)
    assert (row["AETERM"], row["AEPTCD"], row["AESER"], row["AESHOSP"]) == (
        "Pneumonia",
        "10035664",
        "Y",
        "Y",
    )
    assert row["AESTDTC"] == "2026-06"
    ae_json = json.loads((tmp_path / "DATASET_JSON" / "ae.json").read_text())
    assert len(ae_json["rows"]) == 1
    (line,) = (tmp_path / "FHIR" / "AdverseEvent.ndjson").read_text().splitlines()
    get_fhir_model_class("AdverseEvent").model_validate_json(line)
    assert json.loads(line)["event"]["coding"][0]["code"] == "10035664"


async def test_medications_the_site_recorded_are_in_sdtm_cm_and_fhir(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    """The snapshot reads concomitant medications from the database; CM.csv, cm.json and
    MedicationStatement.ndjson carry what the site recorded, SUPPCM the WHODrug code."""
    details = MedicationDetails(
        name="Metformin",
        drug_code="000209010010",
        coded_name="METFORMIN",
        dose="850",
        dose_unit="mg",
        route=Route.ORAL,
        frequency=Frequency.BID,
        start="2025",
        ongoing=True,
        indication="Type 2 diabetes",
    )
    await medication_cases.record(
        uow=cast(MedicationUnitOfWork, scratch.runtime.services.uow()),
        ctx=caller(world.coordinator),
        participant_id=world.people[0].id,
        details=details,
    )
    for format in (ExportFormat.SDTM, ExportFormat.DATASET_JSON, ExportFormat.FHIR):
        job = await _export(scratch, world, format, tmp_path / format.value)
        assert job.status is ExportStatus.DONE
    with (tmp_path / "SDTM" / "CM.csv").open(newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["USUBJID"].endswith(world.people[0].subject_id)
    assert (row["CMTRT"], row["CMDECOD"], row["CMDOSE"], row["CMDOSU"]) == (
        "Metformin",
        "METFORMIN",
        "850",
        "mg",
    )
    assert (row["CMSTDTC"], row["CMENRF"], row["CMDOSFRQ"]) == ("2025", "ONGOING", "BID")
    with (tmp_path / "SDTM" / "SUPPCM.csv").open(newline="") as handle:
        supp = {r["QNAM"]: r["QVAL"] for r in csv.DictReader(handle)}
    assert supp["CMDRGCD"] == "000209010010"
    cm_json = json.loads((tmp_path / "DATASET_JSON" / "cm.json").read_text())
    assert len(cm_json["rows"]) == 1
    (line,) = (tmp_path / "FHIR" / "MedicationStatement.ndjson").read_text().splitlines()
    resource = get_fhir_model_class("MedicationStatement").model_validate_json(line)
    assert resource.model_dump()["status"] == "active"
    assert json.loads(line)["medicationCodeableConcept"]["coding"][0]["code"] == "000209010010"


async def test_deviations_are_in_sdtm_dv_with_suppdv(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    await deviation_cases.record(
        uow=scratch.runtime.services.uow(),
        ctx=caller(world.coordinator),
        participant_id=world.people[0].id,
        category=DeviationCategory.ELIGIBILITY,
        severity=DeviationSeverity.CRITICAL,
        term="Enrolled with an excluded condition",
        occurred_on="2026-06-02",
    )
    for format in (ExportFormat.SDTM, ExportFormat.DATASET_JSON):
        job = await _export(scratch, world, format, tmp_path / format.value)
        assert job.status is ExportStatus.DONE
    with (tmp_path / "SDTM" / "DV.csv").open(newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert (row["DVTERM"], row["DVCAT"], row["DVSTDTC"]) == (
        "Enrolled with an excluded condition",
        "ELIGIBILITY CRITERIA",
        "2026-06-02",
    )
    with (tmp_path / "SDTM" / "SUPPDV.csv").open(newline="") as handle:
        supp = {r["QNAM"]: r["QVAL"] for r in csv.DictReader(handle)}
    assert (supp["DVSEV"], supp["DVSRC"], supp["DVSTAT"]) == ("CRITICAL", "STAFF", "OPEN")
    dv_json = json.loads((tmp_path / "DATASET_JSON" / "dv.json").read_text())
    assert len(dv_json["rows"]) == 1


async def test_reason_codes_reach_odm_and_fhir_provenance_and_the_free_text_does_not(
    scratch: Scratch, world: World, tmp_path: Path
) -> None:
    """The fixture's diary correction and reading delete sent free text only (OTHER); a
    status change here sends a code. ODM has them as ReasonForChange (valid against the
    official XSD), Provenance as coded reasons; the free text reaches neither."""
    why = "Moved away, said so on the phone to the nurse"
    await participants.change_status(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        participant_id=world.people[0].id,
        status=ParticipantStatus.WITHDRAWN,
        reason=why,
        code="PARTICIPANT_CLARIFICATION",
    )
    for format in (ExportFormat.ODM, ExportFormat.FHIR):
        job = await _export(scratch, world, format, tmp_path / format.value)
        assert job.status is ExportStatus.DONE
    odm = (tmp_path / "ODM" / "odm.xml").read_text()
    xmlschema.XMLSchema(str(ODM_XSD)).validate(str(tmp_path / "ODM" / "odm.xml"))
    assert "<ReasonForChange>PARTICIPANT_CLARIFICATION</ReasonForChange>" in odm
    assert "<ReasonForChange>OTHER</ReasonForChange>" in odm  # the correction, the delete
    lines = (tmp_path / "FHIR" / "Provenance.ndjson").read_text().splitlines()
    reasons = [
        c["code"]
        for p in map(json.loads, lines)
        for r in p.get("reason", [])
        for c in r.get("coding", [])
    ]
    assert {"PARTICIPANT_CLARIFICATION", "OTHER"} <= set(reasons)
    for line in lines:
        get_fhir_model_class("Provenance").model_validate_json(line)
    for folder in ("ODM", "FHIR"):
        for path in (tmp_path / folder).iterdir():
            text = path.read_text()
            assert why not in text
            assert CORRECTION_REASON not in text
