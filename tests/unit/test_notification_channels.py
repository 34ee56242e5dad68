"""Channels against real receivers: a local Web Push service that decrypts the payload with
the subscription's private keys, and a local SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes

import http_ece
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from domain.notifications import DIARY_DUE, Expired
from infra.notifications.email import EmailChannel, SmtpSettings
from infra.notifications.webpush import VapidSettings, WebPushChannel


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PushService:
    """A real HTTP push service that keeps what arrives and answers `status`."""

    status: int = 201
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def push_service() -> AsyncIterator[tuple[PushService, str]]:
    service = PushService()

    async def receive(request: web.Request) -> web.Response:
        service.received.append((dict(request.headers), await request.read()))
        return web.Response(status=service.status)

    app = web.Application()
    app.router.add_post("/push/{token}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield service, f"http://127.0.0.1:{port}/push/abc"
    await runner.cleanup()


def _vapid() -> VapidSettings:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return VapidSettings(private_key=_b64(raw), subject="mailto:trials@example.org")


async def test_web_push_payload_is_decrypted_with_the_subscription_keys(
    push_service: tuple[PushService, str],
) -> None:
    service, endpoint = push_service
    receiver = ec.generate_private_key(ec.SECP256R1())
    public = receiver.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = os.urandom(16)
    subscription = json.dumps(
        {"endpoint": endpoint, "keys": {"p256dh": _b64(public), "auth": _b64(auth)}}
    )
    await WebPushChannel(_vapid()).send(subscription, DIARY_DUE.render("de", "n-1"))

    [(headers, body)] = service.received
    assert headers["Content-Encoding"] == "aes128gcm"
    assert headers["Authorization"].startswith("vapid t=")
    clear = http_ece.decrypt(body, private_key=receiver, auth_secret=auth, version="aes128gcm")
    assert json.loads(clear) == {"id": "n-1", "title": "Hearth", "body": "Ihr Tagebuch ist bereit."}


@pytest.mark.parametrize("status", [404, 410])
async def test_a_gone_subscription_raises_expired(
    push_service: tuple[PushService, str], status: int
) -> None:
    service, endpoint = push_service
    service.status = status
    receiver = ec.generate_private_key(ec.SECP256R1())
    public = receiver.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    subscription = json.dumps(
        {"endpoint": endpoint, "keys": {"p256dh": _b64(public), "auth": _b64(os.urandom(16))}}
    )
    with pytest.raises(Expired):
        await WebPushChannel(_vapid()).send(subscription, DIARY_DUE.render("en", "n-2"))


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(
            (envelope.mail_from, envelope.rcpt_tos, envelope.content)  # type: ignore[attr-defined]
        )
        return "250 OK"


async def test_email_reaches_a_real_smtp_server() -> None:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = EmailChannel(
            SmtpSettings(host="127.0.0.1", port=port, sender="trials@example.org", starttls=False)
        )
        await channel.send("pat@example.net", DIARY_DUE.render("fr-CA", "n-3"))
        await asyncio.sleep(0)
    finally:
        controller.stop()
    [(sender, recipients, content)] = inbox.messages
    assert (sender, recipients) == ("trials@example.org", ["pat@example.net"])
    mail = message_from_bytes(content)
    assert mail["X-Hearth-Notification"] == "n-3"
    assert mail.get_payload(decode=True).decode().strip() == "Votre journal est prêt."  # type: ignore[union-attr]
