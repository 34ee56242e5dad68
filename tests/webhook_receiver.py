"""A real HTTP receiver for webhook tests: a uvicorn server on a local socket that records
what arrives and answers with the status codes a test scripts, and a verifier that checks
signatures with the `standardwebhooks` library against the test's pinned clock."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.clock import PinnedClock


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # popped per request; then 204
    received: list[Received] = field(default_factory=list)


class PinnedWebhook(Webhook):
    """The library's verification, with "now" taken from the test's clock: the library
    reads the wall clock, which tests never do. The signature check is the library's."""

    def __init__(self, secret: str, clock: PinnedClock) -> None:
        super().__init__(secret)
        self._clock = clock

    # The library calls its private, name-mangled check; this overrides just that.
    def _Webhook__verify_timestamp(self, timestamp_header: str) -> datetime:  # noqa: N802
        now = self._clock.now()
        at = datetime.fromtimestamp(float(timestamp_header), tz=now.tzinfo)
        if abs(at - now) > timedelta(minutes=5):
            raise WebhookVerificationError("Message timestamp out of tolerance")
        return at


def verify(secret: str, clock: PinnedClock, received: Received) -> Any:
    return PinnedWebhook(secret, clock).verify(received.body, received.headers)


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    receiver = Receiver(url=f"http://127.0.0.1:{port}/hook")

    async def hook(request: Request) -> Response:
        body = (await request.body()).decode()
        receiver.received.append(Received(dict(request.headers), body))
        status = receiver.answers.pop(0) if receiver.answers else 204
        if 300 <= status < 400:
            return Response(status_code=status, headers={"location": "http://example.org/x"})
        return Response(status_code=status)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.config.load()
    server.lifespan = server.config.lifespan_class(server.config)
    await server.startup(sockets=[sock])  # listening from here on
    try:
        yield receiver
    finally:
        await server.shutdown(sockets=[sock])
        sock.close()
