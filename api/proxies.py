"""Who the client is: the peer's address, or what a configured proxy says it forwarded for.

X-Forwarded-For is believed only when the connection comes from a trusted proxy
(HEARTH_TRUSTED_PROXIES; none by default), so a client cannot choose its own address and
escape the per-address limits. The header is read from the right: the first address that is
not itself a trusted proxy is the client. uvicorn's own proxy handling is switched off
(`hearth serve` runs it with proxy_headers=False), so this is the only place that decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from api.settings import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ClientAddressMiddleware:
    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            self._adopt_forwarded(scope)
        await self.app(scope, receive, send)

    def _adopt_forwarded(self, scope: Scope) -> None:
        client = scope.get("client")
        if not client or not self._is_trusted(_address(client[0])):
            return
        forwarded = self._forwarded_client(_header(scope, b"x-forwarded-for"))
        if forwarded is not None:
            scope["client"] = (str(forwarded), 0)
        proto = _header(scope, b"x-forwarded-proto").strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto

    def _forwarded_client(self, header: str) -> Address | None:
        """The right-most hop that is not a trusted proxy (all trusted: the left-most)."""
        found = None
        for hop in reversed([hop.strip() for hop in header.split(",") if hop.strip()]):
            found = _address(hop)
            if found is None or not self._is_trusted(found):
                return found  # a malformed hop: believe nothing beyond it
        return found

    def _is_trusted(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.trusted)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _header(scope: Scope, name: bytes) -> str:
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == name]
    return ",".join(values)
