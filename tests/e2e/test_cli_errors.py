"""Bad configuration ends in one clear line on stderr and a documented exit status, never a
traceback, for every command and for the server's start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli.common import Exit
from api.cli.main import main
from tests.conftest import ScratchDatabase
from tests.e2e.live import ROOT, free_port


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.setenv("HEARTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEARTH_KEY_FILE", str(tmp_path / "keys.json"))
    return monkeypatch


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("mysql://user@db.example.org/hearth", Exit.USAGE, "is not a PostgreSQL URL"),
        ("not a url at all", Exit.USAGE, "is not a PostgreSQL URL"),
        ("postgresql://postgres@127.0.0.1:1/hearth", Exit.DATABASE, "cannot use the database"),
        ("postgresql://nobody-here@127.0.0.1:5432/x", Exit.DATABASE, "cannot use the database"),
    ],
)
@pytest.mark.parametrize("command", [["migrate"], ["users", "list"], ["audit", "verify"]])
def test_bad_database_urls(
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    url: str,
    status: Exit,
    says: str,
) -> None:
    env.setenv("DATABASE_URL", url)
    assert main(command) == status
    err = capsys.readouterr().err
    assert says in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_settings_name_the_variable_not_the_value(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("HEARTH_PORT", "eighty")
    env.setenv("HEARTH_TRUSTED_PROXIES", "10.0.0.0/8, secret-value")
    assert main(["version"]) == Exit.USAGE
    err = capsys.readouterr().err
    assert "HEARTH_PORT" in err
    assert "HEARTH_TRUSTED_PROXIES" in err
    assert "eighty" not in err
    assert err.count("\n") == 1


def test_a_registered_only_server_needs_its_operations_file(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("HEARTH_PERSISTED_QUERIES", "registered")
    assert main(["serve", "--no-migrate"]) == Exit.USAGE
    assert "HEARTH_PERSISTED_QUERIES_FILE" in capsys.readouterr().err


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli.main", "serve", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_server_start_fails_in_one_line(database: ScratchDatabase, tmp_path: Path) -> None:
    base = {**os.environ, "HEARTH_DATA_DIR": str(tmp_path), "HEARTH_KEY_FILE": str(tmp_path / "k")}
    unreachable = _serve(
        base | {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}, "--port", str(free_port())
    )
    assert unreachable.returncode == Exit.DATABASE
    assert unreachable.stderr.startswith("hearth: cannot use the database")
    assert unreachable.stderr.count("\n") == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = _serve(base | {"DATABASE_URL": database.owner_url}, "--no-migrate", "--port", port)
    assert busy.returncode == Exit.USAGE
    assert busy.stderr == f"hearth: cannot listen on 127.0.0.1:{port}: Address already in use\n"
