#!/usr/bin/env python3
"""Hearth's two commands, for a fresh machine with nothing but Python 3.11+.

    python3 dev.py run    install what is needed, then serve GraphQL on :8000 with one worker
    python3 dev.py test   install what is needed, then lint, type-check and test everything

Dependencies go into ./.venv (pinned by constraints.txt) and are reinstalled only when
pyproject.toml or constraints.txt change. Extra arguments after `run` go to `hearth serve`,
after `test` to pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def _stamp(extras: str) -> str:
    digest = hashlib.sha256(extras.encode())
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment(extras: str = "") -> None:
    """Create .venv and install Hearth (editable) with pinned dependencies, once."""
    if sys.version_info < (3, 11):
        sys.exit("Hearth needs Python 3.11 or newer.")
    stamp_file = VENV / f".hearth-installed{extras or '-runtime'}"
    stamp = _stamp(extras)
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    if not PYTHON.exists():
        print("Creating .venv ...", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as error:
            sys.exit(f"Could not create .venv ({error}). Debian/Ubuntu: apt install python3-venv")
    print("Installing dependencies into .venv (first run takes a minute) ...", flush=True)
    target = f".[{extras}]" if extras else "."
    _run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PYTHON, "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", target)
    stamp_file.write_text(stamp)


def _run(*command: object) -> None:
    completed = subprocess.run([str(c) for c in command], cwd=ROOT, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


STEPS = [
    ("lint (ruff)", ["ruff", "check", "."]),
    ("format (ruff)", ["ruff", "format", "--check", "."]),
    ("types (mypy --strict)", ["mypy"]),
    ("layer contracts (import-linter)", ["lint-imports"]),
    ("SDL drift (schema.graphql)", ["hearth", "schema", "--check", "schema.graphql"]),
]


def test(pytest_args: list[str]) -> int:
    ensure_environment("dev")
    for name, command in STEPS:
        print(f"== {name}", flush=True)
        if subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT, check=False).returncode:
            print(f"FAILED: {name}", file=sys.stderr)
            return 1
    where = "TEST_DATABASE_URL" if os.environ.get("TEST_DATABASE_URL") else "embedded PostgreSQL"
    print(f"== migrations (alembic upgrade head && alembic check) and tests (pytest, {where})")
    pytest = [str(PYTHON), "-m", "pytest", *pytest_args]
    return subprocess.run(pytest, cwd=ROOT, check=False).returncode


def run(serve_args: list[str]) -> int:
    ensure_environment()
    os.chdir(ROOT)
    # The server and one job worker beside it; Ctrl-C stops both, then the database.
    command = [str(BIN / "hearth"), "serve", "--with-worker", *serve_args]
    os.execv(command[0], command)  # noqa: S606 - replace this process with the server


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test"):
        print(__doc__)
        return 2
    action, rest = sys.argv[1], sys.argv[2:]
    return run(rest) if action == "run" else test(rest)


if __name__ == "__main__":
    sys.exit(main())
