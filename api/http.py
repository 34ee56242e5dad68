"""What the HTTP endpoints share: who is calling (authentication), refusals, health,
readiness, the console page and the SDL. GraphQL itself is served by api/graphql_http.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from api.answers import OrjsonResponse, error_body
from api.logging import request_id_var
from api.services import Services
from domain.actors import ANONYMOUS, Origin, RequestContext
from domain.errors import DomainError, ErrorCode, Unauthenticated
from domain.services import auth as auth_cases

_MAX_HEADER = 64


async def authenticate(request: Request, services: Services) -> RequestContext:
    """Who is calling (anonymous without a token) and from where; a bad token raises."""
    origin = Origin(
        request_id=request_id_var.get(),
        app_version=_header(request, "x-app-version"),
        device_id=_header(request, "x-device-id"),
        device_time=_device_time(_header(request, "x-device-time")),
        client_address=request.client.host if request.client else None,
    )
    header = request.headers.get("authorization")
    if header is None:
        return RequestContext(actor=ANONYMOUS, origin=origin)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated
    claims = services.tokens.verify_access(token.strip())
    actor = await auth_cases.identify(callers=services.callers, clock=services.clock, claims=claims)
    return RequestContext(actor=actor, origin=origin)


def _header(request: Request, name: str) -> str | None:
    value = request.headers.get(name)
    return value[:_MAX_HEADER] if value else None


def _device_time(value: str | None) -> datetime | None:
    """The device's clock, as the app reports it: ISO 8601 with its UTC offset."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            "X-Device-Time must be ISO 8601 with an offset, e.g. 2026-03-29T09:00:00+02:00.",
            field="device_time",
        )
    return moment


def refused(error: DomainError) -> Response:
    """A request refused before GraphQL runs: 401 for a bad token, else 400."""
    if error.code is not ErrorCode.UNAUTHENTICATED:
        return OrjsonResponse(error_body(error.code, error.message, error.field), 400)
    return OrjsonResponse(
        error_body(error.code, "Invalid or expired access token."),
        status_code=401,
        headers={"www-authenticate": 'Bearer error="invalid_token"'},
    )


def console_page() -> str:
    return resources.files("api").joinpath("console.html").read_text(encoding="utf-8")


def schema_sdl(sdl: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(sdl, media_type="application/graphql")

    return endpoint


async def healthz(request: Request) -> Response:
    """Alive: the process answers. Says nothing about the database on purpose."""
    return JSONResponse({"status": "ok"})


def readyz(
    check: Callable[[], Awaitable[dict[str, bool]]],
    *,
    advisory: frozenset[str] = frozenset(),
) -> Callable[[Request], Awaitable[Response]]:
    """Ready: the database answers and its schema is at the migrations' head. Checks named
    in `advisory` are reported but do not make the server unready (a missing worker)."""

    async def endpoint(request: Request) -> Response:
        checks = await check()
        ready = all(ok for name, ok in checks.items() if name not in advisory)
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return endpoint
