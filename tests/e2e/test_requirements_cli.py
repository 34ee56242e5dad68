"""The audit trail exported from the command line, by participant, field and time range."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from api.cli.main import main
from domain.services import contacts
from tests.clock import PinnedClock
from tests.conftest import Scratch
from tests.factories import caller
from tests.world import PEOPLE, build_world


@dataclass
class Timeline:
    participant: str
    other: str
    before: datetime  # after the world was built, before the first phone change
    between: datetime  # after the first phone change, before the second


@pytest.fixture
async def timeline(
    scratch: Scratch, clock: PinnedClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Timeline:
    """The world at the pinned time; her phone number changes two and four hours later."""
    monkeypatch.setenv("DATABASE_URL", scratch.owner_url)
    monkeypatch.setenv("HEARTH_KEY_FILE", str(scratch.settings.key_path))
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    uow = scratch.runtime.services.uow
    world = await build_world(uow)
    person = world.people[0]
    marks = []
    for version, phone in ((2, "+49 30 5550 9999"), (3, "+49 30 5550 7777")):
        clock.advance(hours=1)
        marks.append(clock.now())
        clock.advance(hours=1)
        await contacts.set_contact(
            uow=uow(),
            ctx=caller(world.coordinator),
            participant_id=person.id,
            expected_version=version,
            full_name=PEOPLE[0]["full_name"],
            email=PEOPLE[0]["email"],
            phone=phone,
            date_of_birth=PEOPLE[0]["date_of_birth"],
            address=world.contacts[0].address,
        )
    await scratch.runtime.seal_checkpoints()  # positions come once the integrator has run
    return Timeline(str(person.id), str(world.people[1].id), marks[0], marks[1])


def _export(capsys: pytest.CaptureFixture[str], *filters: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["audit", "export", *filters]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_the_trail_exports_by_participant_field_and_time_range(
    timeline: Timeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """Requirement 9: the operator's export filters like the GraphQL trail, in log order."""
    hers = _export(capsys, "--participant", timeline.participant)
    assert len(hers) >= 4  # registered, contact set, moved, two phone changes
    assert {e["participantId"] for e in hers} == {timeline.participant}
    positions = [e["position"] for e in hers]
    assert None not in positions
    assert positions == sorted(positions)
    phone = _export(capsys, "--participant", timeline.participant, "--field", "phone")
    assert len(phone) == 3  # set once, changed twice
    assert all("phone" in [c["field"] for c in e["changes"]] for e in phone)
    window = _export(
        capsys,
        "--participant",
        timeline.participant,
        "--since",
        timeline.before.isoformat(),
        "--until",
        timeline.between.isoformat(),
    )
    (changed,) = window
    assert timeline.before <= datetime.fromisoformat(changed["recordedAt"]) < timeline.between
    (field,) = [c for c in changed["changes"] if c["field"] == "phone"]
    assert field["new"]["state"] == "WITHHELD"  # the export never reveals personal values
    assert "9999" not in json.dumps(window)
    others = _export(capsys, "--participant", timeline.other)
    assert others
    assert {e["participantId"] for e in others} == {timeline.other}
