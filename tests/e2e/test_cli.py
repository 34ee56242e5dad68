"""The `hearth` command line, run in-process on a scratch database."""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.app import build_worker
from api.cli.main import main
from domain.exports import ExportJob
from domain.services import exports
from tests.clock import CLOCK
from tests.conftest import Scratch
from tests.factories import caller
from tests.world import add_diary, build_world


@pytest.fixture
def env(scratch: Scratch, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Scratch:
    monkeypatch.setenv("DATABASE_URL", scratch.owner_url)
    monkeypatch.setenv("HEARTH_KEY_FILE", str(scratch.settings.key_path))
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEARTH_EXPORT_DIR", str(scratch.settings.export_path))
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


@pytest.fixture
async def worker(env: Scratch) -> AsyncIterator[None]:
    """A real worker on the scratch database, in this process, writing where the CLI reads."""
    settings = env.settings.model_copy(update={"worker_metrics_port": 0})
    running = build_worker(settings, clock=CLOCK)
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    yield
    stop.set()
    await task


async def test_export_verify_and_public_key(
    study_code: str, worker: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = study_code
    out = tmp_path / "sdtm"
    command = ["export", "--study", code, "--format", "sdtm", "--out", str(out)]
    assert await asyncio.to_thread(main, command) == 0
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


async def test_an_export_that_does_not_finish_leaves_no_output_folder(
    env: Scratch, study_code: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 17: a failed `hearth export` left an empty output folder."""
    out = tmp_path / "nested" / "odm"
    unknown = ["export", "--study", "NO-SUCH", "--format", "odm", "--out", str(out)]
    assert await asyncio.to_thread(main, unknown) == 2
    assert "No study with code" in capsys.readouterr().err
    assert not (tmp_path / "nested").exists()
    command = ["export", "--study", study_code, "--format", "odm", "--out", str(out)]
    waiting = asyncio.create_task(asyncio.to_thread(main, command))
    job = await _queued_export(env)  # no worker runs: it waits; someone cancels it
    await exports.cancel(uow=env.runtime.services.uow(), ctx=caller(), job_id=job.id)
    assert await waiting == 2
    err = capsys.readouterr().err
    assert "No worker is running" in err
    assert "The export cancelled" in err
    assert not (tmp_path / "nested").exists()


async def _queued_export(env: Scratch) -> ExportJob:
    for _ in range(200):
        async with env.runtime.services.uow() as uow:
            study = await uow.studies.by_code("CLI-EXPORT")
            assert study is not None
            found = await uow.exports.of_study(study.id, 1)
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the command queued no export")
