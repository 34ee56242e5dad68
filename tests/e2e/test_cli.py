"""The `hearth` command line, run in-process on a scratch database."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from api.cli.main import main
from tests.conftest import Scratch
from tests.world import add_diary, build_world


@pytest.fixture
def env(scratch: Scratch, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Scratch:
    monkeypatch.setenv("DATABASE_URL", scratch.owner_url)
    monkeypatch.setenv("HEARTH_KEY_FILE", str(scratch.settings.key_path))
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    return scratch


@pytest.fixture
async def populated(env: Scratch) -> Scratch:
    await build_world(env.runtime.services.uow)
    return env


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("hearth ")
    with pytest.raises(SystemExit) as exited:
        main(["audit", "verify", "--help"])
    assert exited.value.code == 0


def test_schema_file_matches(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[2]
    assert main(["schema", "--check", str(root / "schema.graphql")]) == 0


def test_audit_checkpoint_verify_rotate_erase_export(
    populated: Scratch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "checkpoint"]) == 0
    assert "Checkpoint over" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("OK: ")
    assert main(["keys", "rotate"]) == 0
    assert "2 data keys re-wrapped" in capsys.readouterr().out
    assert main(["audit", "export", "--entity-type", "Participant"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    participant = lines[0]["entityId"]
    assert {line["entityType"] for line in lines} == {"Participant"}
    assert main(["participants", "erase", participant, "--legal-basis", "GDPR Art. 17(1)(a)"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert "erased" in capsys.readouterr().out
    assert main(["participants", "erase", participant, "--legal-basis", "again"]) == 2
    assert "erased already" in capsys.readouterr().err


async def _tamper(scratch: Scratch) -> None:
    from sqlalchemy import text

    from infra.db.engine import create_engine

    engine = create_engine(scratch.owner_url, pool_size=1)
    async with engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(
            text(
                'UPDATE audit_events SET body = replace(body, \'"action":"created"\', '
                '\'"action":"x"\') WHERE ingest = (SELECT ingest FROM audit_chain '
                "WHERE seq = 2 ORDER BY log_id LIMIT 1)"
            )
        )
    await engine.dispose()


@pytest.fixture
async def tampered(populated: Scratch) -> Scratch:
    await populated.runtime.seal_checkpoints()
    await _tamper(populated)
    return populated


def test_verify_fails_and_names_the_position(
    tampered: Scratch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAILED")
    assert "/study/" in out
    assert "at position 2: its content does not match its hash (changed)" in out


def test_root_without_database_gets_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert main(["migrate"]) == 2
    message = capsys.readouterr().err
    assert "cannot run as root" in message
    assert "DATABASE_URL" in message


def test_users_commands(
    populated: Scratch, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def create(email: str, role: str, *extra: str) -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase 1\n"))
        command = ["users", "create", "--email", email, "--name", "N", "--role", role]
        return main([*command, *extra, "--password-stdin"])

    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase 1\n"))
    assert (
        main(
            [
                "users",
                "create-admin",
                "--email",
                "root@example.org",
                "--name",
                "Root",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert create("dm@example.org", "DATA_MANAGER", "--study", "NOPE") == 2
    assert "Study not found" in capsys.readouterr().err
    assert create("mon@example.org", "MONITOR") == 2
    assert "Site roles need a site" in capsys.readouterr().err
    assert create("mon@example.org", "ADMIN") == 0
    assert main(["users", "revoke", "mon@example.org", "--role", "ADMIN"]) == 0
    assert main(["users", "disable", "mon@example.org", "--reason", "left"]) == 0
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "root@example.org" in listing
    assert "DISABLED" in listing
    assert "no roles" in listing


@pytest.fixture
async def study_code(env: Scratch) -> str:
    world = await build_world(env.runtime.services.uow, code="CLI-EXPORT")
    await add_diary(env.runtime.services.uow, world)
    return world.study.code


def test_export_verify_and_public_key(
    study_code: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = study_code
    out = tmp_path / "sdtm"
    assert main(["export", "--study", code, "--format", "sdtm", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "audit-log position" in printed.out
    assert "rows" in printed.err  # the progress report
    assert main(["export", "verify", str(out)]) == 0
    assert capsys.readouterr().out.startswith("OK: ")
    assert main(["export", "public-key"]) == 0
    pem = tmp_path / "export-key.pem"
    pem.write_text(capsys.readouterr().out)
    assert main(["export", "verify", str(out), "--public-key", str(pem)]) == 0
    capsys.readouterr()
    (out / "DM.csv").write_bytes((out / "DM.csv").read_bytes() + b"x")
    assert main(["export", "verify", str(out)]) == 1
    assert "DM.csv: changed" in capsys.readouterr().out
    assert main(["export", "--study", code, "--format", "odm", "--out", str(out)]) == 2
