"""Two server processes (`hearth serve` with HEARTH_WORKERS=2) and a worker behave as one:
a real graphql-transport-ws client (gql's WebsocketsTransport) subscribed on one process
hears, within a second, a write served by the other, and is cut off with 4401 when its
session is revoked. Which process serves what is read from the server's JSON log (`pid`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from api.settings import Settings
from tests.conftest import ScratchDatabase
from tests.e2e.live import LiveServer, live_server
from tests.e2e.live_trial import LOGOUT, LiveTrial, build_live_trial

CHANGES = """
subscription($sites: [ID!]) {
  changes(kinds: [DATA_QUERY], siteIds: $sites) {
    kind siteId record { ... on DataQuery { id status } }
  }
}"""


@pytest.fixture(scope="module")
async def server(
    database: ScratchDatabase, key_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("live-2")
    async with live_server(
        database,
        key_file,
        workdir,
        args=("--with-worker",),
        workers="2",
        worker_metrics_port="0",
        write_limit_per_caller="100000",
        write_limit_per_ip="100000",
        login_limit_per_ip="100000",
    ) as running:
        yield running


def _poster(server: LiveServer) -> Any:
    def post(query: str, variables: dict[str, Any], token: str | None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        # A new connection each time: the kernel hands it to either server process.
        with httpx.Client(base_url=server.url) as http:
            response = http.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return post


def _socket_pid(server: LiveServer) -> int:
    opened = [line["pid"] for line in server.log() if line.get("msg") == "live socket opened"]
    assert opened, server.text()
    return int(opened[-1])


def _graphql_pids(server: LiveServer, since: int) -> list[int]:
    lines = server.log()[since:]
    return [int(line["pid"]) for line in lines if line.get("path") == "/graphql"]


async def _listening(server: LiveServer, count: int) -> None:
    """Until the servers' /metrics (summed over both processes) show `count` streams."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        for _ in range(500):
            text = (await http.get("/metrics")).text
            for line in text.splitlines():
                if line.startswith("hearth_subscriptions ") and float(line.split()[1]) >= count:
                    return
    raise AssertionError("the subscription never started streaming")


def _close_code(error: BaseException) -> int | None:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionClosed) and cause.rcvd is not None:
            return cause.rcvd.code
        cause = cause.__cause__ or cause.__context__
    return None


async def test_a_write_on_one_process_reaches_a_subscriber_on_the_other(
    server: LiveServer, settings: Settings
) -> None:
    trial: LiveTrial = await asyncio.to_thread(build_live_trial, _poster(server), settings)
    token = trial.coordinators[0]
    transport = WebsocketsTransport(
        url=server.url.replace("http://", "ws://") + "/graphql",
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        stream = session.subscribe(
            GraphQLRequest(CHANGES, variable_values={"sites": [trial.sites[0]]})
        )
        first = asyncio.ensure_future(anext(stream))
        await _listening(server, 1)
        socket_pid = _socket_pid(server)
        # Writes on fresh connections until one is served by the other process.
        crossed = None
        for _ in range(40):
            mark = len(server.log())
            sent = time.monotonic()
            raised = await asyncio.to_thread(trial.raise_query, 0)
            event = await asyncio.wait_for(first, 5)
            latency = time.monotonic() - sent
            assert event["changes"]["record"] == {"id": raised, "status": "OPEN"}
            first = asyncio.ensure_future(anext(stream))
            writers = [pid for pid in _graphql_pids(server, mark) if pid != socket_pid]
            if writers:
                crossed = latency
                break
        assert crossed is not None, "every write was served by the subscriber's process"
        assert crossed < 1.0

        # Signing out (through either process) cuts the stream off: 4401.
        await asyncio.to_thread(trial.gql, token, LOGOUT)
        with pytest.raises(TransportError) as ended:
            await asyncio.wait_for(first, 5)
        assert _close_code(ended.value) == 4401
