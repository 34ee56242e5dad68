"""`hearth serve` in a subprocess on the session database: for what only a real server over
TCP shows (proxy headers, clients that hang up, an external audit tool). Its log lines are
kept for the test to read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ScratchDatabase

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveServer:
    url: str
    port: int
    log_path: Path

    def log(self) -> list[dict[str, Any]]:
        """The server's JSON log lines so far (anything else it printed is skipped)."""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def live_server(
    database: ScratchDatabase,
    key_file: Path,
    workdir: Path,
    *,
    args: tuple[str, ...] = (),
    **settings: str,
) -> AsyncIterator[LiveServer]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database.owner_url,
        "HEARTH_KEY_FILE": str(key_file),
        "HEARTH_DATA_DIR": str(workdir / "data"),
        "HEARTH_EXPORT_DIR": str(workdir / "exports"),
        "HEARTH_ENV": "test",
        **{f"HEARTH_{name.upper()}": value for name, value in settings.items()},
    }
    log_path = workdir / f"server-{port}.log"
    command = [
        sys.executable,
        "-m",
        "api.cli.main",
        "serve",
        "--no-migrate",
        "--port",
        str(port),
        *args,
    ]
    process = _start(command, env, log_path)
    server = LiveServer(f"http://127.0.0.1:{port}", port, log_path)
    try:
        await _wait_until_up(server, process)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def _wait_until_up(server: LiveServer, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for _ in range(600):  # up to a minute, in tenths of a second
            if process.poll() is not None:
                raise RuntimeError(f"hearth serve stopped:\n{server.text()}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"hearth serve did not answer:\n{server.text()}")
