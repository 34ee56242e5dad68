"""What every console page shares: templates, headers, the signed-in caller, forms and errors.

Nothing here decides who may do what: the domain services and `domain.access` do.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api.console import session as cookies
from api.console.i18n import catalogue, language, remember_language
from api.http import authenticate
from api.services import Services
from domain.actors import ActorKind, Origin, RequestContext
from domain.errors import DomainError, ErrorCode, Forbidden, NotFound, Unauthenticated
from domain.services import auth as auth_cases

_HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a missing message or value fails loudly, never renders blank
)
templates.globals.update(signed_in=False, csrf="", refused=False)

# How a refusal from the domain reads over HTTP: the page shows the stable code and message.
_STATUS = {
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
}


class SignedIn:
    """A staff member signed in to the console, with the CSRF token their forms carry."""

    def __init__(self, ctx: RequestContext, csrf: str) -> None:
        self.ctx = ctx
        self.csrf = csrf


def page(request: Request, name: str, status: int = 200, **values: object) -> Response:
    lang = language(request)
    html = templates.get_template(name).render(lang=lang, t=catalogue(lang), **values)
    response = HTMLResponse(html, status_code=status)
    secure_headers(response)
    if request.query_params.get("lang") == lang:
        remember_language(response, lang)
    return response


def secure_headers(response: Response) -> None:
    response.headers["content-security-policy"] = CSP
    response.headers["cache-control"] = "no-store"
    response.headers["x-content-type-options"] = "nosniff"


def refusal(request: Request, error: DomainError, signed_in: SignedIn | None = None) -> Response:
    """A domain refusal as a page with its stable code; nothing was stored."""
    return page(
        request,
        "error.html",
        status=_STATUS.get(error.code, 400),
        code=str(error.code),
        message=str(error),
        signed_in=signed_in is not None,
        csrf=signed_in.csrf if signed_in else "",
    )


def forbidden_csrf() -> Response:
    response = HTMLResponse("Forbidden: missing or wrong CSRF token.", status_code=403)
    secure_headers(response)
    return response


async def caller(request: Request, services: Services) -> SignedIn | None:
    """The staff member whose console cookie this request carries, or None."""
    token = request.cookies.get(cookies.COOKIE)
    if not token:
        return None
    try:
        claims = services.tokens.verify_access(token)
        actor = await auth_cases.resolve_actor(uow=services.uow(), claims=claims)
    except (Unauthenticated, DomainError):
        return None
    if actor.kind is not ActorKind.STAFF:
        return None
    base = await authenticate_origin(request, services)
    return SignedIn(
        RequestContext(actor=actor, origin=base.origin),
        cookies.csrf_token(services.tokens, token),
    )


async def form(request: Request) -> dict[str, str]:
    """A URL-encoded form (the only kind the console sends); anything else reads as empty."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), max_num_fields=40)
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)


def csrf_ok(request: Request, services: Services, values: dict[str, str]) -> bool:
    return cookies.csrf_valid(
        services.tokens, request.cookies.get(cookies.COOKIE), values.get("csrf")
    )


def path_id(request: Request, name: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError as error:
        raise NotFound(what) from error


def require_staff(found: SignedIn | None) -> SignedIn:
    if found is None:
        raise Forbidden("Sign in first.")
    return found


def local(moment: datetime | None, zone: str) -> str:
    """A moment as wall time in a zone, with the zone's abbreviation."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


async def authenticate_origin(request: Request, services: Services) -> RequestContext:
    """The request's origin (request id, client address) without reading any bearer token."""
    ctx = await authenticate(_without_authorization(request), services)
    return RequestContext(actor=ctx.actor, origin=ctx.origin or Origin())


def _without_authorization(request: Request) -> Request:
    scope = dict(request.scope)
    scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    return Request(scope)


templates.filters["local"] = local
