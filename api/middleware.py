"""ASGI middleware: request ids with access logs, the last word on failures, body limits."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.answers import dumps, error_body
from api.logging import request_id_var

log = logging.getLogger("hearth.http")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Adopt a well-formed X-Request-ID or make one; echo it; log one line per request.

    The line says where the request came from. A client that goes away mid-request is
    recorded as 499 at INFO (phones on poor networks do this all day), never as a server
    error; anything unexpected is answered with the JSON error shape and logged once,
    without its message (it may quote personal data).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        state = _Exchange()

        async def watching_receive() -> Message:
            message = await receive()
            state.disconnected = state.disconnected or message["type"] == "http.disconnect"
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, watching_receive, send_with_id)
        except Exception as error:
            await self._failed(error, state, send_with_id)
        finally:
            self._log(scope, state, started)
            request_id_var.reset(token)

    async def _failed(self, error: Exception, state: _Exchange, send: Send) -> None:
        if state.disconnected or isinstance(error, ClientDisconnect):
            state.disconnected = True
            return  # nobody is listening; whatever was half-read was never used
        log.error("unhandled error", exc_info=error)
        if state.status is None:
            await _send_json(
                send, 500, "INTERNAL_SERVER_ERROR", "Unexpected error.", [(b"connection", b"close")]
            )
        state.status = 500

    def _log(self, scope: Scope, state: _Exchange, started: float) -> None:
        status = 499 if state.disconnected and state.status in (None, 499) else state.status
        log.info(
            "client disconnected" if status == 499 else "request",
            extra={
                "method": scope["method"],
                "path": scope["path"],  # never the query string: it may carry variables
                "status": status or 500,
                "client": client_host(scope),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )


@dataclass
class _Exchange:
    status: int | None = None  # what was sent, if anything
    disconnected: bool = False


def client_host(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class BodyLimitMiddleware:
    """Answer 413 to bodies over the limit, whether or not Content-Length tells the truth.

    `routes` gives single paths (bulk uploads) a limit of their own.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, routes: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = dict(routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get(scope["path"], self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _too_large(send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    await _send_json(send, 413, "PAYLOAD_TOO_LARGE", "Request body too large.")


async def _send_json(
    send: Send,
    status: int,
    code: str,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = dumps(error_body(code, message))
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})
