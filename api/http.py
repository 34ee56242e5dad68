"""HTTP endpoints: GraphQL (with authentication in front), health, readiness, the console."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources
from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.printer import print_schema
from strawberry.schema.exceptions import InvalidOperationTypeError

from api.context import Context
from api.logging import request_id_var
from api.services import Services
from domain.actors import ANONYMOUS, Origin, RequestContext
from domain.errors import DomainError, ErrorCode, Unauthenticated
from domain.services import auth as auth_cases

_MAX_HEADER = 64


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, schema: strawberry.Schema, services: Services) -> None:
        super().__init__(schema, graphql_ide=None, allow_queries_via_get=True)
        self.services = services

    async def execute_single(self, **kwargs: Any) -> Any:  # type: ignore[override]
        """GraphQL over HTTP: a mutation sent with GET is 405 Method Not Allowed."""
        try:
            return await super().execute_single(**kwargs)
        except HTTPException as error:
            if isinstance(error.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, error.reason) from error
            raise

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        caller: RequestContext = request.scope["state"]["caller"]
        return Context(request=request, response=response, services=self.services, caller=caller)


class GraphQLEndpoint:
    """Authenticates the caller, then hands over to GraphQL; bad tokens get a 401 here."""

    def __init__(self, view: GraphQLView, services: Services, console: bool) -> None:
        self.view = view
        self.services = services
        self.console = console
        self.sdl = print_schema(view.schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if scope["type"] == "http" and request.method == "GET" and self._wants_console(request):
            await HTMLResponse(_console_page())(scope, receive, send)
            return
        try:
            caller = await authenticate(request, self.services)
        except DomainError as error:
            await refused(error)(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.view(scope, receive, send)

    def _wants_console(self, request: Request) -> bool:
        accept = request.headers.get("accept", "")
        return self.console and "text/html" in accept and "query" not in request.query_params


async def authenticate(request: Request, services: Services) -> RequestContext:
    """Who is calling (anonymous without a token) and from where; a bad token raises."""
    origin = Origin(
        request_id=request_id_var.get(),
        app_version=_header(request, "x-app-version"),
        device_id=_header(request, "x-device-id"),
        device_time=_device_time(_header(request, "x-device-time")),
    )
    header = request.headers.get("authorization")
    if header is None:
        return RequestContext(actor=ANONYMOUS, origin=origin)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated
    claims = services.tokens.verify_access(token.strip())
    actor = await auth_cases.resolve_actor(uow=services.uow(), claims=claims)
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
    if error.code is not ErrorCode.UNAUTHENTICATED:
        extensions = {"code": error.code.value, "field": error.field}
        return JSONResponse({"errors": [{"message": error.message, "extensions": extensions}]}, 400)
    body = {
        "errors": [
            {
                "message": "Invalid or expired access token.",
                "extensions": {"code": error.code.value},
            }
        ]
    }
    return JSONResponse(
        body, status_code=401, headers={"www-authenticate": 'Bearer error="invalid_token"'}
    )


def _console_page() -> str:
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
