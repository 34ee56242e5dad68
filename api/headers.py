"""Response headers for every answer, in one place: no caching of (personal) answers, no
content sniffing, no framing, a strict CSP, and CORS for the web origins configured.

HTML (the development console) gets a CSP that allows exactly its own inline script and
style, by hash; everything else gets `default-src 'none'`. CORS answers preflights itself
and never allows credentials: Hearth takes bearer tokens, not cookies.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.answers import Refusal
from domain.errors import ErrorCode

ALWAYS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
CORS_HEADERS = (
    "authorization, content-type, content-encoding, x-request-id, x-app-version, "
    "x-device-id, x-device-time"
)
CORS_EXPOSED = "retry-after, x-request-id"
PREFLIGHT = {
    "access-control-allow-methods": "GET, POST",
    "access-control-allow-headers": CORS_HEADERS,
    "access-control-max-age": "600",
}

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def page_csp(html: str) -> str:
    """A CSP for a page whose only script and style are inline: allowed by their hashes."""
    sources: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        sources[kind].append(f"'sha256-{digest}'")
    script = " ".join(sources["script"]) or "'none'"
    style = " ".join(sources["style"]) or "'none'"
    return (
        f"default-src 'none'; script-src {script}; style-src {style}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class EdgeHeadersMiddleware:
    def __init__(self, app: ASGIApp, origins: Iterable[str], html_csp: str) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.html_csp = html_csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Headers(scope=scope)
        origin = request.get("origin")
        if scope["method"] == "OPTIONS" and origin and "access-control-request-method" in request:
            await self._preflight(scope, receive, send, origin)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._decorate(MutableHeaders(scope=message), origin)
            await send(message)

        await self.app(scope, receive, with_headers)

    def _decorate(self, headers: MutableHeaders, origin: str | None) -> None:
        for name, value in ALWAYS.items():
            headers[name] = value
        html = headers.get("content-type", "").startswith("text/html")
        if "content-security-policy" not in headers:  # a page that sets its own keeps it
            headers["content-security-policy"] = self.html_csp if html else API_CSP
        if origin is not None and self._allowed(origin):
            headers["access-control-allow-origin"] = "*" if "*" in self.origins else origin
            headers["access-control-expose-headers"] = CORS_EXPOSED
        if self.origins:
            headers.add_vary_header("origin")

    async def _preflight(self, scope: Scope, receive: Receive, send: Send, origin: str) -> None:
        response = Response(status_code=204, headers=PREFLIGHT)
        if not self._allowed(origin):
            response = Refusal(
                403, ErrorCode.FORBIDDEN, "This origin may not call Hearth."
            ).response()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._decorate(MutableHeaders(scope=message), origin)
            await send(message)

        await response(scope, receive, with_headers)

    def _allowed(self, origin: str) -> bool:
        return "*" in self.origins or origin.lower() in self.origins
