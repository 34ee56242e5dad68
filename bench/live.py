"""Live events fanned out to many subscribers across two server processes.

    TEST_DATABASE_URL=postgresql+asyncpg://... python -m bench.live [--subscribers 200]
        [--writes 50] [--concurrency 4]

`hearth serve --workers 2` runs in its own processes on a scratch database; this process
holds the subscribers: --subscribers graphql-transport-ws sockets (the `websockets`
client), each subscribed to `changes(kinds: [DATA_QUERY])` as the site's coordinator. It
then raises --writes data queries over HTTP (--concurrency at a time) and waits until every
subscriber has every event. Printed: events/s delivered (writes x subscribers over the
time from the first write to the last delivery) and the latency of each delivery, p50/p99,
from the write's commit (bounded: from sending the write, and from its answer, which
follows the commit) to its arrival at the subscriber. The baseline is a bare NOTIFY round
trip on the same PostgreSQL in the same run (pg_notify on one connection, LISTEN on another).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import websockets

from bench.common import (
    NO_RATE_LIMITS,
    ROOT,
    asyncpg_dsn,
    machine,
    owner_url,
    percentile,
    scratch_settings,
)
from bench.common import run as run_bench
from bench.world import create_staff_user, create_trial, login
from domain.actors import Grant, Role
from domain.ids import StudyId

# fmt: off
CHANGES = "subscription { changes(kinds: [DATA_QUERY]) { record { ... on DataQuery { id } } } }"
REGISTER = "mutation($s: ID!, $n: String!) { registerParticipant(input: {siteId: $s, screeningNumber: $n}) { __typename ... on RegisterParticipantSuccess { participant { id } } } }"  # noqa: E501
RAISE = 'mutation($r: ID!) { raiseQuery(input: {recordId: $r, field: "screeningNumber", question: "Please confirm."}) { __typename ... on DataQuerySuccess { query { id } } ... on MutationError { code } } }'  # noqa: E501
# fmt: on


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def _servers(settings: Any, port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
    env.update(
        DATABASE_URL=owner_url(settings),
        HEARTH_KEY_FILE=str(settings.key_path),
        HEARTH_ENV="test",
        HEARTH_WORKERS="2",
        HEARTH_DB_POOL_SIZE="8",
        HEARTH_LOG_LEVEL="WARNING",
        **{f"HEARTH_{k.upper()}": str(v) for k, v in NO_RATE_LIMITS.items()},
    )
    command = [sys.executable, "-m", "api.cli.main", "serve", "--no-migrate", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(1200):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code in (200, 503):
                        break
                await asyncio.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            process.kill()


async def _streams(http: httpx.AsyncClient, count: int) -> float:
    text = (await http.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith("hearth_subscriptions "):
            return float(line.split()[1])
    return 0.0


class Subscriber:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.arrived: dict[str, float] = {}
        self.socket: Any = None

    async def open(self) -> None:
        self.socket = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        init = {"authorization": f"Bearer {self.token}"}
        await self.socket.send(json.dumps({"type": "connection_init", "payload": init}))
        ack = json.loads(await self.socket.recv())
        assert ack["type"] == "connection_ack", ack
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": CHANGES}}
        await self.socket.send(json.dumps(subscribe))

    async def hear(self, expected: int) -> None:
        while len(self.arrived) < expected:
            message = json.loads(await self.socket.recv())
            if message.get("type") == "next":
                record = message["payload"]["data"]["changes"]["record"]
                self.arrived[record["id"]] = time.perf_counter()


async def _baseline(dsn: str, samples: int) -> list[float]:
    """A bare NOTIFY round trip: pg_notify committed on one connection, heard on another."""
    listener, sender = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    heard: asyncio.Queue[float] = asyncio.Queue()
    await listener.add_listener("bench_live", lambda *_: heard.put_nowait(time.perf_counter()))
    seconds = []
    try:
        for n in range(samples):
            sent = time.perf_counter()
            await sender.execute("SELECT pg_notify('bench_live', $1)", str(n))
            seconds.append(await heard.get() - sent)
    finally:
        await listener.close()
        await sender.close()
    return seconds


async def main(subscribers: int, writes: int, concurrency: int) -> None:
    async with scratch_settings(pool_size=4, **NO_RATE_LIMITS) as settings:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        async with _servers(settings, port), httpx.AsyncClient(base_url=base, timeout=60) as http:
            trial = await create_trial(http, settings)
            study = StudyId(trial.study_uuid)
            manager = await login(
                trial.api, await create_staff_user(settings, (Grant(Role.DATA_MANAGER, study),))
            )
            made = await trial.api.mutate(
                trial.coordinator, REGISTER, "registerParticipant", s=trial.site, n="S-001"
            )
            participant = made["participant"]["id"]
            listeners = [Subscriber(f"ws://127.0.0.1:{port}/graphql", trial.coordinator)]
            listeners += [
                Subscriber(listeners[0].url, trial.coordinator) for _ in range(subscribers - 1)
            ]
            for group in range(0, subscribers, 20):
                await asyncio.gather(*(s.open() for s in listeners[group : group + 20]))
            while await _streams(http, subscribers) < subscribers:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            hearing = [asyncio.create_task(s.hear(writes)) for s in listeners]
            sent: dict[str, tuple[float, float]] = {}
            gate = asyncio.Semaphore(concurrency)

            async def write() -> None:
                async with gate:
                    start = time.perf_counter()
                    body = await trial.api.mutate(manager, RAISE, "raiseQuery", r=participant)
                    sent[body["query"]["id"]] = (start, time.perf_counter())

            first = time.perf_counter()
            await asyncio.gather(*(write() for _ in range(writes)))
            await asyncio.wait_for(asyncio.gather(*hearing), 300)
            last = max(max(s.arrived.values()) for s in listeners)
            from_send = [s.arrived[q] - t[0] for s in listeners for q, t in sent.items()]
            from_answer = [s.arrived[q] - t[1] for s in listeners for q, t in sent.items()]
            for s in listeners:
                await s.socket.close()
        baseline = await _baseline(asyncpg_dsn(owner_url(settings)), 200)
    delivered = writes * subscribers
    ms = 1000.0
    print(f"machine: {machine()}")
    print(f"2 server processes, {subscribers} subscribers, {writes} writes ({concurrency} at once)")
    print(f"fan-out: {delivered} events delivered in {last - first:.2f} s = "
          f"{delivered / (last - first):.0f} events/s")  # fmt: skip
    print(f"latency from sending the write: p50 {percentile(from_send, 0.5) * ms:.1f} ms, "
          f"p99 {percentile(from_send, 0.99) * ms:.1f} ms")  # fmt: skip
    p50, p99 = percentile(from_answer, 0.5) * ms, percentile(from_answer, 0.99) * ms
    print(f"latency from the write's answer (after its commit): p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms")  # fmt: skip
    print(f"baseline, bare NOTIFY round trip: p50 {percentile(baseline, 0.5) * ms:.2f} ms, "
          f"p99 {percentile(baseline, 0.99) * ms:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    run_bench(main(args.subscribers, args.writes, args.concurrency))
