"""`hearth studies retention|close|purge`, in-process on a scratch database, by the test clock."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from api import app
from api.cli.main import main
from domain.participants import ParticipantStatus
from domain.services import participants
from tests.clock import CLOCK, PinnedClock
from tests.conftest import Scratch
from tests.factories import caller
from tests.world import World, build_world


@dataclass
class Worlds:
    active: World  # one participant still screened
    settled: World  # every participant's withdrawal recorded: ready to close


@pytest.fixture
async def worlds(scratch: Scratch, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Worlds:
    monkeypatch.setenv("DATABASE_URL", scratch.owner_url)
    monkeypatch.setenv("HEARTH_KEY_FILE", str(scratch.settings.key_path))
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    # The commands build their runtime themselves: give it the test clock, not the wall's.
    monkeypatch.setattr(app, "build_runtime", functools.partial(app.build_runtime, clock=CLOCK))
    uow = scratch.runtime.services.uow
    active, settled = await build_world(uow), await build_world(uow)
    await participants.change_status(
        uow=uow(),
        ctx=caller(settled.coordinator),
        participant_id=settled.people[0].id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Screen failure",
    )
    return Worlds(active, settled)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_an_operator_closes_and_purges_a_study_after_its_retention(
    worlds: Worlds, clock: PinnedClock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "studies", "purge", "NO-SUCH", "--reason", "x") == (
        2,
        "hearth: Study not found.\n",
    )
    status, said = _run(capsys, "studies", "close", worlds.active.study.code, "--reason", "Ended")
    assert (status, "1 participants are still" in said) == (2, True)
    code = worlds.settled.study.code
    status, said = _run(capsys, "studies", "retention", code, "--years", "10", "--reason", "x")
    assert (status, "at least 25 years" in said) == (2, True)
    assert _run(capsys, "studies", "retention", code, "--years", "26", "--reason", "SOP")[0] == 0
    assert _run(capsys, "studies", "close", code, "--reason", "Ended")[0] == 0
    status, said = _run(capsys, "studies", "purge", code, "--reason", "Retention over")
    assert status == 2
    assert "runs until 2052-06-10 09:30 UTC (26 years" in said
    clock.advance(days=(clock.now().replace(year=2052) - clock.now()).days)
    status, said = _run(capsys, "studies", "purge", code, "--reason", "Retention over")
    assert (status, said) == (
        0,
        f"Study {code}: personal data of 2 participants is unreadable (2 shredded now); "
        "the purge is in the audit trail.\n",
    )
    assert "(0 shredded now)" in _run(capsys, "studies", "purge", code, "--reason", "again")[1]
    assert _run(capsys, "audit", "integrate")[0] == 0  # what the worker does all along
    status, said = _run(capsys, "audit", "verify")
    assert (status, said.startswith("OK: ")) == (0, True)
