"""Prometheus /metrics on the server: GraphQL operations by name (bounded), HTTP routes,
the job queue; with two server processes, one scrape adds both up."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from api.metrics import MAX_OPERATIONS, GraphQLMetrics
from tests.conftest import ROOT, Scratch


def _count(scraped: str, operation: str, kind: str = "query") -> float:
    pattern = (
        rf'hearth_graphql_operation_seconds_count{{operation="{operation}",type="{kind}"}} (\S+)'
    )
    found = re.search(pattern, scraped)
    return float(found.group(1)) if found else 0.0


async def test_operations_are_timed_by_name_and_the_queue_is_shown(
    client: httpx.AsyncClient,
) -> None:
    name = f"Ping{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        await client.post("/graphql", json={"query": f"query {name} {{ __typename }}"})
    await client.post("/graphql", json={"query": "{ __typename }"})
    await client.post("/graphql", json={"query": "query Bad-Name { x }"})
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    scraped = response.text
    assert _count(scraped, name) == 3
    assert _count(scraped, "anonymous") >= 1
    assert 'hearth_http_request_seconds_count{route="graphql",status="2xx"}' in scraped
    assert 'hearth_job_queue_waiting{queue="exports"}' in scraped
    assert "hearth_workers_live" in scraped


def test_operation_labels_are_bounded() -> None:
    metrics = GraphQLMetrics(CollectorRegistry())
    names = [metrics.label(f"Op{i}") for i in range(MAX_OPERATIONS + 5)]
    assert names[:MAX_OPERATIONS] == [f"Op{i}" for i in range(MAX_OPERATIONS)]
    assert set(names[MAX_OPERATIONS:]) == {"other"}
    assert metrics.label("Op1") == "Op1"  # known names stay
    assert metrics.label("drop table; --") == "other"
    assert metrics.label(None) == "anonymous"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_two_server_processes_are_scraped_as_one(scratch: Scratch, tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEARTH_", "PROMETHEUS_"))}
    env |= {
        "DATABASE_URL": scratch.owner_url,
        "HEARTH_KEY_FILE": str(scratch.settings.key_path),
        "HEARTH_DATA_DIR": str(tmp_path),
        "HEARTH_PORT": str(port),
        "HEARTH_WORKERS": "2",
        "HEARTH_ENV": "test",
    }
    server = _serve(env, tmp_path / "serve.log")
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, headers={"connection": "close"}) as http:
            await _up(http)
            for _ in range(20):
                await http.post("/graphql", json={"query": "query Counted { __typename }"})
            scrapes = [(await http.get("/metrics")).text for _ in range(6)]
        assert [_count(s, "Counted") for s in scrapes] == [20.0] * 6
        assert (tmp_path / f"metrics-{port}").is_dir()
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 60)
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        command = [sys.executable, "-m", "api.cli.main", "serve"]
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)


async def _up(http: httpx.AsyncClient) -> None:
    for _ in range(300):
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the server did not start")
