"""Sign a message per Standard Webhooks and POST it: no redirects followed, a timeout,
only to public addresses (unless allowed), and an `Attempt` that records what happened
without the receiver's body."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
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


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IPAddress) -> bool:
    """Reachable on the public internet: not loopback, private, link-local (cloud metadata
    at 169.254.169.254), shared, reserved or multicast; IPv4-mapped IPv6 judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name resolves to (an IP literal resolves to itself)."""
    loop = asyncio.get_running_loop()
    found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))


class Sender:
    """POSTs signed messages with one shared HTTP client (open it with `async with`).

    A receiver's host is resolved before each try and the connection goes to the address
    that was checked (the name still goes in `Host` and in TLS SNI, and the certificate is
    verified against it), so a name that resolves to an inside address, or changes its
    answer between check and connect, cannot make the worker call inside the network.
    `allow_private` (HEARTH_WEBHOOK_ALLOW_PRIVATE) lifts that for receivers on a private
    network or the same machine."""

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS, allow_private: bool = False) -> None:
        # Redirects are answers, not instructions: a 3xx counts as a failed try, so a
        # receiver can never send Hearth's messages on to another host.
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)
        self._allow_private = allow_private

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
        target = httpx.URL(check_url(url))
        port = target.port or (443 if target.scheme == "https" else 80)
        try:
            addresses = await resolve(target.host, port)
        except (OSError, UnicodeError):
            return Attempt(None, _since(started), "no answer (the host name does not resolve)")
        if not addresses:
            return Attempt(None, _since(started), "no answer (the host name does not resolve)")
        if not self._allow_private and not all(is_public(a) for a in addresses):
            return Attempt(
                None,
                _since(started),
                "refused: the host resolves to a private, loopback or link-local address "
                "(HEARTH_WEBHOOK_ALLOW_PRIVATE allows that)",
            )
        sent = headers(secrets, msg_id, at, body) | {"host": target.netloc.decode("ascii")}
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        for last, address in enumerate(addresses, start=1 - len(addresses)):
            try:
                answer = await self._client.post(
                    target.copy_with(host=str(address)),
                    content=body,
                    headers=sent,
                    extensions=extensions,
                )
                break
            except httpx.ConnectError as failure:  # the next checked address, if any
                if last == 0:
                    return Attempt(None, _since(started), f"no answer ({type(failure).__name__})")
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
