"""Web Push (RFC 8030) with aes128gcm payload encryption (RFC 8291) and VAPID (RFC 8292)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPushException, webpush_async

from domain.notifications import Expired, Message

GONE = frozenset({404, 410})


@dataclass(frozen=True)
class VapidSettings:
    """From configuration (HEARTH_VAPID_PRIVATE_KEY, HEARTH_VAPID_SUBJECT); never in code."""

    private_key: str  # base64url raw key, or the path of the PEM file `vapid --gen` writes
    subject: str  # "mailto:trials@example.org" or an https URL


class WebPushChannel:
    """`address` is the subscription as the browser gives it, as JSON:
    {"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}."""

    name = "webpush"

    def __init__(self, vapid: VapidSettings, *, ttl: int = 3600, timeout: float = 10.0) -> None:
        self._vapid = vapid
        self._ttl = ttl
        self._timeout = timeout

    async def send(self, address: str, message: Message) -> None:
        subscription = json.loads(address)
        payload = json.dumps(
            {"id": message.notification_id, "title": message.title, "body": message.body}
        )
        try:
            await webpush_async(
                subscription,
                data=payload,
                vapid_private_key=self._vapid.private_key,
                vapid_claims={"sub": self._vapid.subject},
                content_encoding="aes128gcm",
                ttl=self._ttl,
                timeout=self._timeout,
            )
        except WebPushException as failure:
            if failure.status_code in GONE:
                raise Expired(f"push service answered {failure.status_code}") from failure
            raise


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair (P-256): the private key as base64url of its 32 raw bytes (for
    HEARTH_VAPID_PRIVATE_KEY) and the public key as base64url of its uncompressed point
    (the `applicationServerKey` apps subscribe with, HEARTH_VAPID_PUBLIC_KEY)."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64(raw), _b64(public)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
