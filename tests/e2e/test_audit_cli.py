"""`hearth audit integrate|logs|prove|verify --trusted`, and key files refused in one line."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest

from api.cli.main import main
from infra.eventlog import merkle, notes
from tests.conftest import Scratch
from tests.db.test_tamper import rehash, superuser
from tests.world import World, build_world


@pytest.fixture
def env(scratch: Scratch, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Scratch:
    monkeypatch.setenv("DATABASE_URL", scratch.owner_url)
    monkeypatch.setenv("HEARTH_KEY_FILE", str(scratch.settings.key_path))
    monkeypatch.setenv("HEARTH_CHECKPOINT_DIR", str(scratch.settings.checkpoint_path))
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    return scratch


@pytest.fixture
async def world(env: Scratch) -> World:
    return await build_world(env.runtime.services.uow, code="CLI-LOG")


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_integrate_list_and_prove(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "integrate"]) == 0
    assert capsys.readouterr().out == "Sequenced 8 events; sealed 1 checkpoints.\n"
    assert main(["audit", "logs"]) == 0
    listing = capsys.readouterr().out
    assert f"/study/{world.study.id}\n  8 events, 8 in a signed checkpoint, 0 queued" in listing
    vkey = listing.split("verifier key: ")[1].split("\n")[0]
    assert main(["audit", "prove", "inclusion", "--log", "CLI-LOG", "--position", "5"]) == 0
    proof = json.loads(capsys.readouterr().out)
    assert notes.parse(proof["checkpoint"]).verified_by(notes.Verifier.parse(vkey))
    assert merkle.verify_inclusion(
        _b64(proof["leafData"]),
        proof["leafIndex"],
        proof["treeSize"],
        [_b64(p) for p in proof["proof"]],
        _b64(proof["rootHash"]),
    )
    assert main(["audit", "prove", "consistency", "--log", "CLI-LOG", "--from", "8"]) == 0
    assert json.loads(capsys.readouterr().out)["proof"] == []
    assert main(["audit", "prove", "inclusion", "--log", "CLI-LOG", "--position", "99"]) == 2
    assert "not in the 8 covered" in capsys.readouterr().err


@pytest.fixture
async def shipped(world: World, env: Scratch, tmp_path: Path) -> Path:
    """Checkpoints shipped elsewhere; then the log is rewritten, rehashed, its checkpoints
    deleted, and the local copies removed."""
    from sqlalchemy import text

    await env.runtime.seal_checkpoints()
    copy = tmp_path / "shipped"
    shutil.copytree(env.settings.checkpoint_path, copy)
    shutil.rmtree(env.settings.checkpoint_path)
    async with superuser(env) as connection:
        await connection.execute(
            text(
                "UPDATE audit_events SET body = replace(body, 'Berlin', 'Bern') WHERE ingest = "
                f"(SELECT ingest FROM audit_chain WHERE log_id = '{world.study.id}' AND seq = 2)"
            )
        )
        await connection.execute(text("DELETE FROM audit_checkpoints"))
    await rehash(env, world.study.id)
    return copy


def test_verify_trusted_names_a_rewritten_log(
    world: World, shipped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--trusted", str(shipped)]) == 1
    out = capsys.readouterr().out
    assert f"/study/{world.study.id} at position 8: the log's first 8 events are not" in out


def test_a_wrong_key_file_path_is_refused_in_one_line(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = tmp_path / "new" / "keys.json"
    monkeypatch.setenv("HEARTH_KEY_FILE", str(wrong))
    assert main(["audit", "checkpoint"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hearth: No key file at {wrong}")
    assert err.count("\n") == 1
    assert not wrong.exists()


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        ("{not json", 0o600, "is malformed"),
        ('{"format": 1}', 0o600, "is malformed"),
        (None, 0o640, "must not be readable or writable by group or others"),
    ],
)
def test_a_bad_key_file_is_refused_in_one_line(
    env: Scratch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    mode: int,
    message: str,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content if content is not None else env.settings.key_path.read_text())
    os.chmod(bad, mode)
    monkeypatch.setenv("HEARTH_KEY_FILE", str(bad))
    for command in (["audit", "verify"], ["users", "list"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert message in err
        assert err.startswith("hearth: ")
        assert err.count("\n") == 1  # one line, no traceback
