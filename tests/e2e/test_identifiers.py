"""Identifiers over HTTP: screening numbers and serials sealed and readable by one rule, the
trail withholding them (also where an earlier version logged them in the clear), and contact
updates that keep what they do not name."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api import logging as hearth_logging
from api.app import build_runtime
from api.cli.main import main
from api.relay import from_global_id
from api.settings import Settings
from domain import audit
from domain.actors import Grant, Origin, Role, system_actor
from domain.ids import SiteId, StudyId
from domain.readings import ReadingKind
from domain.services import devices
from tests.clock import CLOCK
from tests.conftest import Scratch
from tests.e2e.conftest import Gql, create_user, login
from tests.e2e.test_graphql_slice import _study_and_site
from tests.e2e.test_trust_core import SET_CONTACT, TRAIL
from tests.factories import caller
from tests.world import build_world

REGISTER = "mutation($s: ID!, $n: String!) { registerParticipant(input: {siteId: $s, screeningNumber: $n}) { __typename ... on RegisterParticipantSuccess { participant { id } } ... on MutationError { code field } } }"
REGISTER_DEVICE = 'mutation($s: ID!, $n: String!) { registerDevice(input: {siteId: $s, kinds: [HEART_RATE], model: "Omron", serial: $n}) { __typename ... on DeviceSuccess { device { id serial } } ... on MutationError { code field } } }'
NUMBER = "query($id: ID!) { node(id: $id) { ... on Participant { subjectId screeningNumber } } }"
SERIAL = "query($id: ID!) { node(id: $id) { ... on Device { model serial } } }"
FIND = "query($s: ID!, $e: String) { findParticipantsByContact(studyId: $s, email: $e) { id } }"


async def _site(gql: Gql, settings: Settings, code: str) -> dict[str, Any]:
    admin = await login(gql, await create_user(settings, (Grant(Role.ADMIN),)))
    study_id, site_id = await _study_and_site(gql, admin, code)
    study = StudyId(from_global_id(study_id, "Study")[1])
    site = SiteId(from_global_id(site_id, "Site")[1])
    roles = {
        "coordinator": Grant(Role.COORDINATOR, study, site),
        "monitor": Grant(Role.MONITOR, study, site),
        "manager": Grant(Role.DATA_MANAGER, study),
    }
    tokens = {n: await login(gql, await create_user(settings, (g,))) for n, g in roles.items()}
    return {"admin": admin, "study": study_id, "site": site_id, "ids": (study, site)} | tokens


def _result(body: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = body["data"][name]
    return result


async def _trail(gql: Gql, token: str, entity_id: str) -> list[dict[str, Any]]:
    body = await gql(TRAIL, {"filter": {"entityId": entity_id}}, token)
    return [c for e in body["data"]["auditTrail"]["edges"] for c in e["node"]["changes"]]


async def test_screening_numbers_are_for_the_site_and_unique_per_study(
    gql: Gql, settings: Settings
) -> None:
    w = await _site(gql, settings, "E2E-ID-1")
    made = _result(
        await gql(REGISTER, {"s": w["site"], "n": "SCR-001"}, w["coordinator"]),
        "registerParticipant",
    )
    person = made["participant"]["id"]
    again = await gql(REGISTER, {"s": w["site"], "n": "SCR-001"}, w["coordinator"])
    assert _result(again, "registerParticipant") == {
        "__typename": "MutationError",
        "code": "ALREADY_EXISTS",
        "field": "screeningNumber",
    }
    mine = await gql(NUMBER, {"id": person}, w["coordinator"])
    assert mine["data"]["node"]["screeningNumber"] == "SCR-001"
    for reader in ("manager", "monitor", "admin"):
        theirs = await gql(NUMBER, {"id": person}, w[reader])
        assert theirs["data"]["node"] == {
            "subjectId": mine["data"]["node"]["subjectId"],
            "screeningNumber": None,
        }
        assert theirs["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "SCR-001" not in str(theirs)
        changes = await _trail(gql, w[reader], str(from_global_id(person)[1]))
        number = next(c for c in changes if c["field"] == "screeningNumber")
        assert number["personal"]
        assert number["new"] == {"state": "WITHHELD", "value": None}
    changes = await _trail(gql, w["coordinator"], str(from_global_id(person)[1]))
    number = next(c for c in changes if c["field"] == "screeningNumber")
    assert number["new"] == {"state": "REVEALED", "value": "SCR-001"}


async def test_serials_are_withheld_in_the_trail_from_those_who_may_not_read_them(
    gql: Gql, settings: Settings
) -> None:
    w = await _site(gql, settings, "E2E-ID-2")
    made = _result(
        await gql(REGISTER_DEVICE, {"s": w["site"], "n": "OM-12345"}, w["coordinator"]),
        "registerDevice",
    )
    device = made["device"]
    assert device["serial"] == "OM-12345"
    again = await gql(REGISTER_DEVICE, {"s": w["site"], "n": "OM-12345"}, w["coordinator"])
    assert _result(again, "registerDevice")["code"] == "ALREADY_EXISTS"
    entity = str(from_global_id(device["id"])[1])
    for reader in ("manager", "monitor", "admin"):
        assert "OM-12345" not in str(await gql(SERIAL, {"id": device["id"]}, w[reader]))
        changes = await _trail(gql, w[reader], entity)
        serial = next(c for c in changes if c["field"] == "serial")
        assert serial["personal"]
        assert serial["new"] == {"state": "WITHHELD", "value": None}
    changes = await _trail(gql, w["coordinator"], entity)
    serial = next(c for c in changes if c["field"] == "serial")
    assert serial["new"] == {"state": "REVEALED", "value": "OM-12345"}


async def _log_in_the_clear(settings: Settings, w: dict[str, Any], serial: str) -> uuid.UUID:
    """An event as versions before sealed serials wrote it: the serial as a plain value."""
    study, site = w["ids"]
    device_id = uuid.uuid4()
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        async with runtime.services.uow() as uow:
            uow.record(
                audit.Change(
                    entity_type="Device",
                    entity_id=device_id,
                    action="created",
                    fields=(
                        audit.FieldChange("serial", None, serial),
                        audit.FieldChange("model", None, "Omron"),
                    ),
                    actor=system_actor("earlier version"),
                    role=Role.COORDINATOR,
                    origin=Origin(),
                    subject=audit.Subject(study, site),
                )
            )
            await uow.commit()
    finally:
        await runtime.close()
    return device_id


async def test_serials_an_earlier_version_logged_in_the_clear_are_withheld_too(
    gql: Gql, settings: Settings
) -> None:
    w = await _site(gql, settings, "E2E-ID-3")
    device_id = await _log_in_the_clear(settings, w, "OM-77777")
    for reader in ("manager", "monitor", "admin"):
        changes = await _trail(gql, w[reader], str(device_id))
        assert "OM-77777" not in str(changes)
        serial = next(c for c in changes if c["field"] == "serial")
        assert serial["personal"]
        assert serial["new"]["state"] == "WITHHELD"
        model = next(c for c in changes if c["field"] == "model")
        assert model["new"] == {"state": "PLAIN", "value": "Omron"}  # not an identifier
    changes = await _trail(gql, w["coordinator"], str(device_id))
    serial = next(c for c in changes if c["field"] == "serial")
    assert serial["new"] == {"state": "REVEALED", "value": "OM-77777"}


FULL = {
    "fullName": "Ingrid Holmqvist",
    "email": "ingrid@example.org",
    "phone": "+46 8 123 456",
    "dateOfBirth": "1957-09-30",
    "address": "Storgatan 1, Stockholm",
}


async def _with_contact(gql: Gql, w: dict[str, Any], number: str) -> str:
    made = _result(
        await gql(REGISTER, {"s": w["site"], "n": number}, w["coordinator"]), "registerParticipant"
    )
    person: str = made["participant"]["id"]
    saved = await gql(SET_CONTACT, {"input": {"participantId": person, **FULL}}, w["coordinator"])
    assert _result(saved, "setParticipantContact")["contact"]["version"] == 1
    return person


async def test_changing_one_contact_field_keeps_the_others(gql: Gql, settings: Settings) -> None:
    w = await _site(gql, settings, "E2E-ID-4")
    person = await _with_contact(gql, w, "C-1")
    moved = {"participantId": person, "address": "Drottninggatan 9", "expectedVersion": 1}
    saved = _result(
        await gql(SET_CONTACT, {"input": moved}, w["coordinator"]), "setParticipantContact"
    )
    assert saved["contact"] == FULL | {"address": "Drottninggatan 9", "version": 2}
    found = await gql(FIND, {"s": w["study"], "e": "INGRID@example.org"}, w["coordinator"])
    assert found["data"]["findParticipantsByContact"] == [{"id": person}]
    changes = await _trail(gql, w["coordinator"], str(from_global_id(person)[1]))
    assert [c["field"] for c in changes][-1:] == ["address"]  # one field changed, one logged


async def test_emptying_a_contact_field_needs_a_reason_and_keeps_the_history(
    gql: Gql, settings: Settings
) -> None:
    w = await _site(gql, settings, "E2E-ID-5")
    person = await _with_contact(gql, w, "C-2")
    for empty in (None, "  "):
        cleared = {"participantId": person, "phone": empty}
        refused = _result(
            await gql(SET_CONTACT, {"input": cleared}, w["coordinator"]), "setParticipantContact"
        )
        assert (refused["code"], refused["field"]) == ("REASON_REQUIRED", "reason")
        assert "phone" in refused["message"]
        assert "+46" not in refused["message"]
    unchanged = await gql(
        "query($id: ID!) { node(id: $id) { ... on Participant { contact { phone version } } } }",
        {"id": person},
        w["coordinator"],
    )
    assert unchanged["data"]["node"]["contact"] == {"phone": FULL["phone"], "version": 1}
    reason = "Participant gave up her landline"
    cleared = {"participantId": person, "phone": None, "reason": reason}
    saved = _result(
        await gql(SET_CONTACT, {"input": cleared}, w["coordinator"]), "setParticipantContact"
    )
    assert saved["contact"] == FULL | {"phone": None, "version": 2}
    body = await gql(
        TRAIL,
        {"filter": {"entityId": str(from_global_id(person)[1]), "field": "phone"}},
        w["coordinator"],
    )
    events = [e["node"] for e in body["data"]["auditTrail"]["edges"]]
    assert events[-1]["reason"] == {"state": "REVEALED", "value": reason}
    assert events[-1]["changes"][0]["old"] == {"state": "REVEALED", "value": FULL["phone"]}


@pytest.fixture
async def device_log(scratch: Scratch, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Scratch:
    """A scratch installation whose log holds a sealed serial and one an earlier version
    logged in the clear; the CLI's environment points at it."""
    monkeypatch.setenv("DATABASE_URL", scratch.owner_url)
    monkeypatch.setenv("HEARTH_KEY_FILE", str(scratch.settings.key_path))
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    world = await build_world(scratch.runtime.services.uow)
    await devices.register(
        uow=scratch.runtime.services.uow(),
        ctx=caller(world.coordinator),
        site_id=world.site.id,
        kinds=(ReadingKind.HEART_RATE,),
        model="Omron",
        serial="OM-SEALED",
    )
    await _log_in_the_clear(scratch.settings, {"ids": (world.study.id, world.site.id)}, "OM-CLEAR")
    return scratch


def test_the_cli_trail_export_withholds_serials(
    device_log: Scratch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "export", "--entity-type", "Device"]) == 0
    out = capsys.readouterr().out
    assert "OM-SEALED" not in out
    assert "OM-CLEAR" not in out
    lines = [json.loads(line) for line in out.splitlines()]
    serials = [c for line in lines for c in line["changes"] if c["field"] == "serial"]
    assert [c["new"]["state"] for c in serials] == ["WITHHELD", "WITHHELD"]


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The server's own log configuration (JSON lines, debug level) into a buffer; undone
    afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hearth_logging.configure("DEBUG")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_logs_carry_no_screening_numbers_or_serials(
    gql: Gql, settings: Settings, json_logs: io.StringIO
) -> None:
    w = await _site(gql, settings, "E2E-ID-6")
    made = [  # the second of each is refused by the unique index
        await gql(query, {"s": w["site"], "n": value}, w["coordinator"])
        for query, value in ((REGISTER, "SCR-LOGGED"), (REGISTER_DEVICE, "OM-LOGGED")) * 2
    ]
    assert _result(made[2], "registerParticipant")["code"] == "ALREADY_EXISTS"
    person = _result(made[0], "registerParticipant")["participant"]["id"]
    assert (await gql(NUMBER, {"id": person}, w["manager"]))["errors"]  # refused, not logged
    logged = json_logs.getvalue()
    assert '"path": "/graphql"' in logged  # the request lines were written
    assert "SCR-LOGGED" not in logged
    assert "OM-LOGGED" not in logged
