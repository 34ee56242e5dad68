"""Requests per second at the GraphQL edge, driven by a load generator in another process.

    TEST_DATABASE_URL=postgresql+asyncpg://... python -m bench.edge [--seconds 10]
        [--connections 32]

The real app (`create_app`) serves under uvicorn in this process on 127.0.0.1 (one worker);
autocannon (npm, installed on first use under .hearth/node) sends, at --connections
connections for --seconds each, `{ __typename }` (the floor: HTTP, parsing, validation and
serialisation only) and an authenticated `{ viewer { kind } }` (adds token verification and
the session check), and prints req/s, p50 and p99 latency and the ratio to the floor. Every
answer must be HTTP 200. A scratch database is made for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from bench.common import NO_RATE_LIMITS, ROOT, machine, run, scratch_settings, serving
from bench.world import Api, create_staff_user, login
from domain.actors import Grant, Role

NODE_DIR = ROOT / ".hearth" / "node"
AUTOCANNON = NODE_DIR / "node_modules" / "autocannon" / "autocannon.js"
AUTOCANNON_VERSION = "9.0.0"


def _autocannon() -> Path:
    """autocannon from npm, installed once into a folder of its own."""
    if not AUTOCANNON.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("bench.edge needs node and npm on PATH (for autocannon).")
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR),
             f"autocannon@{AUTOCANNON_VERSION}"],
            check=True,
        )  # fmt: skip
    return AUTOCANNON


def _load(url: str, body: str, token: str | None, seconds: int, connections: int) -> Any:
    command = ["node", str(_autocannon()), "--json", "-c", str(connections), "-d", str(seconds)]
    command += ["-m", "POST", "-H", "content-type=application/json", "-b", body]
    if token:
        command += ["-H", f"authorization=Bearer {token}"]
    done = subprocess.run([*command, f"{url}/graphql"], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def _row(name: str, result: Any, floor: float | None) -> str:
    rate = result["requests"]["average"]
    bad = result["non2xx"] + result["errors"]
    ratio = f"{rate / floor:5.2f}x" if floor else "  1.00x"
    latency = result["latency"]
    return (
        f"{name:<28} {rate:9.0f} req/s  p50 {latency['p50']:6.1f} ms  "
        f"p99 {latency['p99']:6.1f} ms  {ratio}  (failed: {bad})"
    )


async def main(seconds: int, connections: int) -> None:
    async with (
        scratch_settings(pool_size=20, **NO_RATE_LIMITS) as settings,
        serving(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        token = await login(Api(http), await create_staff_user(settings, (Grant(Role.ADMIN),)))
        print(f"bench.edge: {connections} connections, {seconds} s each; {machine()}")
        floor_body = json.dumps({"query": "{ __typename }"})
        viewer_body = json.dumps({"query": "{ viewer { kind } }"})
        for warm in (floor_body, viewer_body):
            await asyncio.to_thread(_load, url, warm, token, 2, connections)
        floor = await asyncio.to_thread(_load, url, floor_body, None, seconds, connections)
        viewer = await asyncio.to_thread(_load, url, viewer_body, token, seconds, connections)
        print(_row("{ __typename }", floor, None))
        print(_row("{ viewer { kind } } (token)", viewer, floor["requests"]["average"]))
        if floor["non2xx"] or viewer["non2xx"] or floor["errors"] or viewer["errors"]:
            raise SystemExit("some requests failed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()
    run(main(options.seconds, options.connections))
