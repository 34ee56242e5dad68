"""Browser-test plumbing: Debian's Chromium through Playwright, a real server process, and
the axe-core accessibility check injected into each page."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ScratchDatabase
from tests.e2e.live import LiveServer, _start, _wait_until_up, free_port

AXE = Path(__file__).with_name("axe") / "axe.min.js"
BLOCKING = {"serious", "critical"}


def chromium() -> str:
    """Debian's Chromium (`apt-get install chromium`). Without it the browser tests skip,
    with the reason, on a developer's machine; under CI they fail instead."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        reason = "browser tests need Chromium: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI is set and {reason}")
        pytest.skip(reason)
    return found


@contextlib.asynccontextmanager
async def console_server(
    database: ScratchDatabase, key_file: Path, export_dir: Path, workdir: Path, at: datetime
) -> AsyncIterator[str]:
    """`python -m tests.browser.server` on a free port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database.owner_url,
        "HEARTH_KEY_FILE": str(key_file),
        "HEARTH_DATA_DIR": str(workdir / "data"),
        "HEARTH_EXPORT_DIR": str(export_dir),  # where the test's worker writes them
        "HEARTH_ENV": "test",
        "HEARTH_LOGIN_LIMIT_PER_IP": "100000",
        "HEARTH_LOGIN_LIMIT_PER_ACCOUNT": "100000",
        "HEARTH_ENROL_LIMIT_PER_IP": "100000",
    }
    log_path = workdir / f"console-{port}.log"
    command = [sys.executable, "-m", "tests.browser.server", str(port), at.isoformat()]
    process = _start(command, env, log_path)
    server = LiveServer(f"http://127.0.0.1:{port}", port, log_path)
    try:
        await _wait_until_up(server, process)
        yield server.url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def accessibility_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands (WCAG 2.x A/AA).

    The script goes in through the DevTools protocol, so the page's strict CSP stays on."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = await page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]
