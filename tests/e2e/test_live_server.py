"""What only a real server over TCP shows: forged X-Forwarded-For headers, clients that hang
up mid-request, and the graphql-http audit of GraphQL-over-HTTP conformance."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ScratchDatabase
from tests.e2e.live import LiveServer, live_server

AUDIT_SCRIPT = Path(__file__).with_name("graphql_http_audit.cjs")
LOGIN = 'mutation { login(input: {email: "nobody@example.org", password: "wrong password 1"}) { __typename } }'
LIMIT = 3  # sign-ins a minute per address, for this server


@pytest.fixture(scope="module")
async def server(
    database: ScratchDatabase, key_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("live")
    async with live_server(database, key_file, workdir, login_limit_per_ip=str(LIMIT)) as running:
        yield running


async def test_forwarded_for_from_any_client_is_not_believed(
    server: LiveServer, owner_engine: AsyncEngine
) -> None:
    # uvicorn's default believed X-Forwarded-For from 127.0.0.1: each forged address got
    # limits of its own. Other tests sign in from 127.0.0.1 too (their counts may be in this
    # window already) and a minute may turn mid-test: hence "at most 2 x LIMIT get through".
    async with httpx.AsyncClient(base_url=server.url) as http:
        statuses = [
            (
                await http.post(
                    "/graphql",
                    json={"query": LOGIN},
                    headers={"x-forwarded-for": f"198.51.100.{n}"},
                )
            ).status_code
            for n in range(2 * LIMIT + 2)
        ]
    assert set(statuses) <= {200, 429}
    assert statuses.count(200) <= 2 * LIMIT
    assert statuses[-1] == 429  # one address, however the header is forged
    logged = {line.get("client") for line in server.log() if line.get("path") == "/graphql"}
    assert logged == {"127.0.0.1"}
    async with owner_engine.connect() as connection:
        addresses = (
            await connection.execute(
                text(
                    "SELECT origin->>'clientAddress' FROM audit_events "
                    "WHERE action = 'login_failed' AND origin->>'clientAddress' IS NOT NULL"
                )
            )
        ).scalars()
        seen = set(addresses)
    assert not any(address.startswith("198.51.100.") for address in seen)


async def _hang_up(server: LiveServer, path: str, content_type: str, partial: bytes) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: {content_type}\r\n"
        "authorization: Bearer x\r\ncontent-length: 100000\r\n\r\n"
    )
    writer.write(head.encode() + partial)
    await writer.drain()
    await asyncio.sleep(0.3)  # the server is reading the body now
    writer.close()
    await writer.wait_closed()


async def _logged(server: LiveServer, path: str, status: int) -> list[dict[str, object]]:
    for _ in range(100):
        lines = [e for e in server.log() if e.get("path") == path and e.get("status") == status]
        if lines:
            return lines
        await asyncio.sleep(0.1)
    return []


async def test_a_client_that_hangs_up_is_499_not_a_server_error(server: LiveServer) -> None:
    await _hang_up(server, "/graphql", "application/json", b'{"query": "{ __typ')
    (line,) = await _logged(server, "/graphql", 499)
    assert line["level"] == "INFO"
    assert line["msg"] == "client disconnected"
    assert not [e for e in server.log() if e["level"] in ("ERROR", "CRITICAL")]
    assert "Traceback" not in server.text()
    async with httpx.AsyncClient(base_url=server.url) as http:  # and the server still serves
        ok = await http.post("/graphql", json={"query": "{ __typename }"})
    assert ok.json() == {"data": {"__typename": "Query"}}


async def test_a_body_of_null_keeps_the_connection(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        for body in (b"42", b"null", b"\xff\xfe"):
            refused = await http.post(
                "/graphql", content=body, headers={"content-type": "application/json"}
            )
            assert refused.status_code == 400
            assert refused.headers.get("connection") != "close"
        ok = await http.post("/graphql", json={"query": "{ __typename }"})
        assert ok.json() == {"data": {"__typename": "Query"}}
    assert not [e for e in server.log() if e["level"] in ("ERROR", "CRITICAL")]


async def test_the_graphql_http_audit_passes_without_warnings(server: LiveServer) -> None:
    node = shutil.which("node")
    assert node is not None, "the graphql-http audit needs node"
    done = await asyncio.to_thread(
        subprocess.run,
        [node, str(AUDIT_SCRIPT), f"{server.url}/graphql"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) > 50
    problems = [r for r in results if r["status"] != "ok"]
    assert problems == []
