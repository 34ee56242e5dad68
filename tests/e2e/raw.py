"""Raw ASGI requests to the real app: any bytes in the path, query string, headers and body,
and clients that go away mid-body, which an HTTP client library would not send."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.types import ASGIApp, Message


@dataclass
class Answer:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def code(self) -> str:
        return str(self.json()["errors"][0]["extensions"]["code"])


async def call(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    chunks: Sequence[bytes] | None = None,
    disconnect: bool = False,
    client: tuple[str, int] = ("127.0.0.1", 50000),
) -> Answer:
    """Send one request; `chunks` send the body in parts, `disconnect` stops after them."""
    parts = list(chunks) if chunks is not None else [body]
    messages: list[Message] = [
        {"type": "http.request", "body": part, "more_body": disconnect or i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    if disconnect:
        messages.append({"type": "http.disconnect"})
    answer = Answer()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "query_string": query,
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in headers],
        "client": client,
        "server": ("hearth.test", 80),
        "state": {},
    }

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            for key, value in message.get("headers", []):
                answer.headers[key.decode("latin-1")] = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app(scope, receive, send)
    return answer
