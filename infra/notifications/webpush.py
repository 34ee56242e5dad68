"""Web Push (RFC 8030) with aes128gcm payload encryption (RFC 8291) and VAPID (RFC 8292)."""

from __future__ import annotations

import json
from dataclasses import dataclass

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
