"""Real receivers for the notification channels: a local Web Push service whose messages a
test decrypts with the subscription's private key, and a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import http_ece
from aiohttp import web
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from infra.notifications.webpush import VapidSettings


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vapid() -> VapidSettings:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return VapidSettings(private_key=b64(raw), subject="mailto:trials@example.org")


@dataclass
class Device:
    """A browser's side of a subscription: the keys the push payload is encrypted to."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth_b64(self) -> str:
        return b64(self.auth)


@dataclass
class PushService:
    """A real HTTP push service: keeps what arrives, answers `status`."""

    base: str = ""
    status: int = 201
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def device(self, token: str = "abc") -> Device:
        return Device(f"{self.base}/push/{token}")

    def opened(self, device: Device) -> list[dict[str, Any]]:
        """The payloads sent to `device`, decrypted with its private key."""
        token = device.endpoint.rsplit("/", 1)[-1]
        return [
            json.loads(
                http_ece.decrypt(
                    body, private_key=device.key, auth_secret=device.auth, version="aes128gcm"
                )
            )
            for path, _, body in self.received
            if path == token
        ]


@asynccontextmanager
async def push_service() -> AsyncIterator[PushService]:
    service = PushService()

    async def receive(request: web.Request) -> web.Response:
        service.received.append(
            (request.match_info["token"], dict(request.headers), await request.read())
        )
        return web.Response(status=service.status)

    app = web.Application()
    app.router.add_post("/push/{token}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    service.base = f"http://127.0.0.1:{port}"
    try:
        yield service
    finally:
        await runner.cleanup()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.port = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(
            (envelope.mail_from, envelope.rcpt_tos, envelope.content)  # type: ignore[attr-defined]
        )
        return "250 OK"

    def mails(self) -> list[Message]:
        return [message_from_bytes(content) for _, _, content in self.messages]


@contextmanager
def smtp_server() -> Iterator[Inbox]:
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
