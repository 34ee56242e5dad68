"""Requirements of the exports proven on a real database: both clocks exported, withdrawn
participants' data kept, ODM audit records that point into the event log, flat memory."""

from __future__ import annotations

import csv
import json
import tracemalloc
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from domain.errors import ErrorCode
from domain.exports import ExportFormat, ExportJob, ExportStatus
from domain.ids import DeviceId
from domain.intake import Outcome
from domain.participants import ParticipantStatus
from domain.services import diaries, exports, participants, readings
from domain.studies import Study
from tests.clock import PinnedClock
from tests.conftest import Scratch
from tests.factories import admin, caller
from tests.world import World, add_diary, build_world
from tests.world_app import app_of, give_watch, heartbeat, open_entry

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
TOKYO = ZoneInfo("Asia/Tokyo")
# Readings: the smaller study fills every bounded buffer (two full fetch batches of 2,000 held
# while a full ODM write buffer of 4,096 parts is joined); the larger adds half as many again.
SMALL, MORE = 6_000, 3_000


async def _export(scratch: Scratch, study: Study, format: ExportFormat, out: Path) -> ExportJob:
    services = scratch.runtime.services
    ctx = caller(admin())
    job = await exports.start(uow=services.uow(), ctx=ctx, study_id=study.id, format=format)
    done = await exports.run(
        uows=services.uow,
        engine=scratch.runtime.export_engine,
        ctx=ctx,
        job_id=job.id,
        directory=str(out),
    )
    assert done is not None
    assert done.status is ExportStatus.DONE, done.error
    return done


def _replay(group: ET.Element) -> dict[str, str]:
    """An ODM ItemGroupData's transactions applied in document order."""
    state: dict[str, str] = {}
    for item in group.iterfind("odm:ItemData", NS):
        if item.attrib["TransactionType"] == "Remove":
            del state[item.attrib["ItemOID"]]
        else:
            state[item.attrib["ItemOID"]] = item.attrib["Value"]
    return state


def _group(root: ET.Element, entry: uuid.UUID, oid: str) -> ET.Element:
    found = root.find(
        f".//odm:FormData[@FormRepeatKey='{entry}']/odm:ItemGroupData[@ItemGroupOID='{oid}']", NS
    )
    assert found is not None, (entry, oid)
    return found


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_device_time_and_receipt_time_are_both_kept_and_exported(
    scratch: Scratch, clock: PinnedClock, tmp_path: Path
) -> None:
    """Requirement 19: a phone on Tokyo time syncs later; both clocks reach every format."""
    world = await build_world(scratch.runtime.services.uow)
    await add_diary(scratch.runtime.services.uow, world)
    watch = await give_watch(scratch.runtime.services.uow, world, clock, days=1)
    clock.advance(hours=1)  # the next hourly diary is open now
    now = clock.now()
    completed = (now - timedelta(minutes=10)).astimezone(TOKYO)
    measured = (now - timedelta(minutes=20)).astimezone(TOKYO)
    entry = await open_entry(scratch.runtime.services.uow, world, completed)
    (sent,) = await diaries.submit(
        uow=scratch.runtime.services.uow(), ctx=app_of(world), submissions=[entry]
    )
    assert sent.outcome is Outcome.ACCEPTED
    batch = await readings.ingest(
        uow=scratch.runtime.services.uow(), ctx=app_of(world), items=[heartbeat(watch, measured)]
    )
    reading_id = batch.items[0].reading_id
    await _export(scratch, world.study, ExportFormat.ODM, tmp_path / "odm")
    await _export(scratch, world.study, ExportFormat.FHIR, tmp_path / "fhir")
    root = ET.parse(tmp_path / "odm" / "odm.xml").getroot()
    times = _replay(_group(root, entry.client_id, "IG.DIARY.ENTRY"))
    assert datetime.fromisoformat(times["I.DIARY.COMPLETED_AT"]) == completed
    assert datetime.fromisoformat(times["I.DIARY.COMPLETED_AT"]).utcoffset() == timedelta(hours=9)
    assert datetime.fromisoformat(times["I.DIARY.RECEIVED_AT"]) == now
    (observation,) = [
        o for o in _lines(tmp_path / "fhir" / "Observation.ndjson") if o["id"] == str(reading_id)
    ]
    assert observation["effectiveDateTime"] == measured.isoformat()  # +09:00, as measured
    assert datetime.fromisoformat(observation["issued"]) == now
    (response,) = [
        r
        for r in _lines(tmp_path / "fhir" / "QuestionnaireResponse.ndjson")
        if r["id"] == str(entry.client_id)
    ]
    assert response["authored"] == completed.isoformat()


async def test_withdrawn_participants_send_nothing_new_and_their_data_is_exported(
    scratch: Scratch, clock: PinnedClock, tmp_path: Path
) -> None:
    """Requirement 29: after withdrawal new data is refused; what came before stays, exported."""
    uow = scratch.runtime.services.uow
    world = await build_world(uow)
    await add_diary(uow, world)
    person = world.people[0]
    await participants.change_status(
        uow=uow(),
        ctx=caller(world.coordinator),
        participant_id=person.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Moved abroad",
    )
    clock.advance(hours=1)
    late = await open_entry(scratch.runtime.services.uow, world, clock.now())
    (refused,) = await diaries.submit(uow=uow(), ctx=app_of(world), submissions=[late])
    assert (refused.outcome, refused.code) == (Outcome.REJECTED, ErrorCode.PARTICIPANT_WITHDRAWN)
    await _export(scratch, world.study, ExportFormat.SDTM, tmp_path / "sdtm")
    await _export(scratch, world.study, ExportFormat.ODM, tmp_path / "odm")
    with (tmp_path / "sdtm" / "QS.csv").open(newline="") as handle:
        answers = {
            (r["USUBJID"].endswith(person.subject_id), r["QSORRES"]) for r in csv.DictReader(handle)
        }
    assert {(True, "5"), (True, "2")} <= answers  # her diaries, collected before she left
    root = ET.parse(tmp_path / "odm" / "odm.xml").getroot()
    subject = root.find(f".//odm:SubjectData[@SubjectKey='{person.subject_id}']", NS)
    assert subject is not None
    assert subject.find(".//odm:FormData[@FormRepeatKey]", NS) is not None
    assert root.find(f".//odm:FormData[@FormRepeatKey='{late.client_id}']", NS) is None


async def test_every_odm_audit_record_names_a_logged_event_and_replays_to_the_state(
    scratch: Scratch, tmp_path: Path
) -> None:
    """Requirement 38: each AuditRecord's SourceID is an event of this log; replaying the
    archive gives the records as they are now."""
    uow = scratch.runtime.services.uow
    world = await build_world(uow)
    diary = await add_diary(uow, world)
    await _export(scratch, world.study, ExportFormat.ODM, tmp_path / "odm")
    root = ET.parse(tmp_path / "odm" / "odm.xml").getroot()
    sources = {
        uuid.UUID(s.text or "") for s in root.iterfind(".//odm:AuditRecord/odm:SourceID", NS)
    }
    async with scratch.runtime.engine.connect() as connection:
        logged = {r[0] for r in await connection.execute(text("SELECT id FROM audit_events"))}
        entry_events = {
            r[0]
            for r in await connection.execute(
                text("SELECT id FROM audit_events WHERE entity_id = :e"), {"e": diary.entry_id}
            )
        }
    assert len(sources) > 5
    assert sources <= logged
    assert entry_events <= sources  # the submission and its correction both
    answers = _replay(_group(root, diary.entry_id, "IG.SYMPTOMS.V1"))
    current = await diaries.get_entry(
        uow=uow(), ctx=caller(world.coordinator), entry_id=diary.entry_id
    )
    assert answers == {"I.SYMPTOMS.V1.SEVERITY": str(current.answers["SEVERITY"])}
    assert current.answers["SEVERITY"] == 5  # corrected from 6


async def _peak(scratch: Scratch, world: World, format: ExportFormat, out: Path) -> int:
    tracemalloc.start()
    try:
        await _export(scratch, world.study, format, out)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def _readings(
    scratch: Scratch, world: World, watch: DeviceId, start: datetime, n: int
) -> None:
    for first in range(0, n, 1000):
        items = [
            heartbeat(watch, start + timedelta(seconds=30 * i))
            for i in range(first, min(n, first + 1000))
        ]
        done = await readings.ingest(
            uow=scratch.runtime.services.uow(), ctx=app_of(world), items=items
        )
        assert {i.outcome for i in done.items} == {Outcome.ACCEPTED}


async def test_export_memory_does_not_grow_with_the_study(
    scratch: Scratch, clock: PinnedClock, tmp_path: Path
) -> None:
    """Requirement 43: half as many readings again, the same memory: every format streams.

    What an export held per reading (a row is a kilobyte or more in memory) would show as
    megabytes of growth; the bounded buffers are full in both runs."""
    now = clock.now()
    clock.pin(now - timedelta(days=21))  # she consented three weeks ago
    world = await build_world(scratch.runtime.services.uow)
    await add_diary(scratch.runtime.services.uow, world)
    clock.pin(now)
    watch = await give_watch(scratch.runtime.services.uow, world, clock, days=20)
    start = clock.now() - timedelta(days=19)
    await _readings(scratch, world, watch, start, SMALL)
    formats = list(ExportFormat)
    for format in formats:  # warm up: caches and compiled statements are not the export's
        await _export(scratch, world.study, format, tmp_path / f"warm-{format.value}")
    small = {f: await _peak(scratch, world, f, tmp_path / f"small-{f.value}") for f in formats}
    await _readings(scratch, world, watch, start + timedelta(days=3), MORE)
    large = {f: await _peak(scratch, world, f, tmp_path / f"large-{f.value}") for f in formats}
    grown = {f.value: large[f] - small[f] for f in formats}
    assert all(growth < 1_500_000 for growth in grown.values()), grown
