"""Sign a message per Standard Webhooks and POST it: no redirects followed, a timeout,
and an `Attempt` that records what happened without the receiver's body."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

from domain.webhooks import TIMEOUT_SECONDS, Attempt, check_url


def signature(secrets: Sequence[str], msg_id: str, at: datetime, body: str) -> str:
    """`webhook-signature`: one `v1,...` per secret (old and new during a rotation)."""
    if not secrets:
        raise ValueError("an endpoint signs with at least one secret")
    return " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets)


def headers(secrets: Sequence[str], msg_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(secrets, msg_id, at, body),
    }


def body_of(message: dict[str, object]) -> str:
    return json.dumps(message, separators=(",", ":"), sort_keys=True)


class Sender:
    """POSTs signed messages with one shared HTTP client (open it with `async with`)."""

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS) -> None:
        # Redirects are answers, not instructions: a 3xx counts as a failed try, so a
        # receiver can never send Hearth's messages on to another host.
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)

    async def __aenter__(self) -> Sender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def send(
        self,
        *,
        url: str,
        secrets: Sequence[str],
        msg_id: str,
        at: datetime,
        message: dict[str, object],
    ) -> Attempt:
        body = body_of(message)
        started = time.perf_counter()
        try:
            answer = await self._client.post(
                check_url(url), content=body, headers=headers(secrets, msg_id, at, body)
            )
        except httpx.TimeoutException:
            return Attempt(None, _since(started), "timed out")
        except httpx.HTTPError as failure:
            return Attempt(None, _since(started), f"no answer ({type(failure).__name__})")
        error = None if answer.is_success else f"HTTP {answer.status_code}"
        if answer.is_redirect:
            error = f"HTTP {answer.status_code}: redirects are not followed"
        return Attempt(answer.status_code, _since(started), error)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
