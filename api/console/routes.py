"""Console pages: sign-in, sign-out, the site dashboard and its live stream.

Every page calls the same domain services and access policy as GraphQL; nothing here decides
who may see what.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api.console import session as cookies
from api.console.i18n import catalogue, language
from api.http import authenticate
from api.services import Services
from domain import access
from domain.access import Permission, Scope
from domain.actors import ActorKind, Origin, RequestContext
from domain.errors import DomainError, Unauthenticated
from domain.ids import SiteId
from domain.pagination import PageRequest
from domain.participants import Participant
from domain.services import auth as auth_cases
from domain.services import participants as participant_cases
from domain.site_changes import SiteChanges

_HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(["html"])
)


@dataclass(frozen=True)
class _Row:
    subject_id: str
    status: str
    registered: str
    zone: str


class Console:
    def __init__(self, services: Services, changes: SiteChanges) -> None:
        self.services = services
        self.changes = changes

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/console", self.dashboard, methods=["GET"]),
            Route("/console/sign-in", self.sign_in_page, methods=["GET"]),
            Route("/console/sign-in", self.sign_in, methods=["POST"]),
            Route("/console/sign-out", self.sign_out, methods=["POST"]),
            Route("/console/sites/{site}/participants", self.participants, methods=["GET"]),
            Route("/console/sites/{site}/events", self.events, methods=["GET"]),
            Mount("/console/static", StaticFiles(directory=_HERE / "static"), name="console"),
        ]

    # --- rendering -------------------------------------------------------------------------

    def _page(self, request: Request, name: str, status: int = 200, **values: object) -> Response:
        lang = language(request)
        html = _templates.get_template(name).render(lang=lang, t=catalogue(lang), **values)
        response = HTMLResponse(html, status_code=status)
        response.headers["content-security-policy"] = CSP
        response.headers["cache-control"] = "no-store"
        return response

    async def _caller(self, request: Request) -> tuple[RequestContext, str] | None:
        token = request.cookies.get(cookies.COOKIE)
        if not token:
            return None
        try:
            claims = self.services.tokens.verify_access(token)
            actor = await auth_cases.identify(
                callers=self.services.callers, clock=self.services.clock, claims=claims
            )
        except (Unauthenticated, DomainError):
            return None
        if actor.kind is not ActorKind.STAFF:
            return None
        base = await authenticate_origin(request, self.services)
        return RequestContext(actor=actor, origin=base.origin), token

    # --- sign-in / sign-out ----------------------------------------------------------------

    async def sign_in_page(self, request: Request) -> Response:
        nonce = request.cookies.get(cookies.NONCE_COOKIE) or self.services.tokens.new_secret()
        response = self._page(
            request, "sign_in.html", csrf=cookies.csrf_token(self.services.tokens, nonce)
        )
        cookies.set_cookie(response, request, cookies.NONCE_COOKIE, nonce, 3600)
        return response

    async def sign_in(self, request: Request) -> Response:
        form = await _form(request)
        nonce = request.cookies.get(cookies.NONCE_COOKIE)
        if not cookies.csrf_valid(self.services.tokens, nonce, form.get("csrf")):
            return self._forbidden(request)
        email, password = form.get("email"), form.get("password")
        ctx = await authenticate_origin(request, self.services)
        try:
            if not isinstance(email, str) or not isinstance(password, str):
                raise Unauthenticated
            signed_in = await auth_cases.login(
                uow=self.services.uow(),
                passwords=self.services.passwords,
                tokens=self.services.tokens,
                ctx=ctx,
                email=email,
                password=password,
            )
        except (DomainError, Unauthenticated):
            assert nonce is not None
            csrf = cookies.csrf_token(self.services.tokens, nonce)
            return self._page(request, "sign_in.html", status=401, csrf=csrf, refused=True)
        response = RedirectResponse("/console", status_code=303)
        lifetime = int((signed_in.access_expires_at - self.services.clock.now()).total_seconds())
        cookies.set_cookie(
            response, request, cookies.COOKIE, signed_in.access_token, max(lifetime, 1)
        )
        cookies.clear_cookie(response, request, cookies.NONCE_COOKIE)
        return response

    async def sign_out(self, request: Request) -> Response:
        form = await _form(request)
        if not cookies.csrf_valid(
            self.services.tokens, request.cookies.get(cookies.COOKIE), form.get("csrf")
        ):
            return self._forbidden(request)
        response = RedirectResponse("/console/sign-in", status_code=303)
        cookies.clear_cookie(response, request, cookies.COOKIE)
        return response

    def _forbidden(self, request: Request) -> Response:
        response = HTMLResponse("Forbidden: missing or wrong CSRF token.", status_code=403)
        response.headers["content-security-policy"] = CSP
        return response

    # --- dashboard -------------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        found = await self._caller(request)
        if found is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        ctx, token = found
        sites = []
        for site_id, scope in _sites(ctx):
            if access.allows(ctx.actor, Permission.PARTICIPANT_READ, scope):
                sites.append({"id": site_id})
        rows = [r for s in sites for r in await self._rows(ctx, SiteId(uuid.UUID(str(s["id"]))))]
        return self._page(
            request,
            "dashboard.html",
            signed_in=True,
            csrf=cookies.csrf_token(self.services.tokens, token),
            sites=sites,
            participants=rows,
        )

    async def _rows(self, ctx: RequestContext, site_id: SiteId) -> list[_Row]:
        page = await participant_cases.page_participants(
            uow=self.services.uow(),
            ctx=ctx,
            site_ids=[site_id],
            status=None,
            request=PageRequest(first=100),
        )
        return [_row(p) for p in page.items]

    async def _site(self, request: Request) -> tuple[RequestContext, SiteId] | Response:
        found = await self._caller(request)
        if found is None:
            return Response("Sign in first.", status_code=401)
        ctx, _ = found
        try:
            site_id = SiteId(uuid.UUID(request.path_params["site"]))
        except ValueError:
            return Response("Not a site id.", status_code=400)
        scopes = [scope for sid, scope in _sites(ctx) if sid == site_id]
        if not any(access.allows(ctx.actor, Permission.PARTICIPANT_READ, s) for s in scopes):
            return Response("Forbidden.", status_code=403)
        return ctx, site_id

    async def participants(self, request: Request) -> Response:
        found = await self._site(request)
        if isinstance(found, Response):
            return found
        ctx, site_id = found
        return self._page(request, "participants.html", participants=await self._rows(ctx, site_id))

    async def events(self, request: Request) -> Response:
        found = await self._site(request)
        if isinstance(found, Response):
            return found
        _, site_id = found
        start = await self.changes.newest(site_id)

        async def stream() -> AsyncIterator[str]:
            since = start
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                newest = await self.changes.wait_for_site_change(site_id, since)
                if newest is None:
                    yield ": keep-alive\n\n"
                    continue
                since = newest
                yield f"event: change\ndata: {json.dumps({'position': newest})}\n\n"

        response = StreamingResponse(stream(), media_type="text/event-stream")
        response.headers["cache-control"] = "no-store"
        return response


async def _form(request: Request) -> dict[str, str]:
    """A URL-encoded form (the only kind the console sends); anything else reads as empty."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)


def _sites(ctx: RequestContext) -> list[tuple[SiteId, Scope]]:
    """The sites the caller holds a site grant on, each with the scope the policy judges."""
    return [
        (g.site_id, Scope(study_id=g.study_id, site_id=g.site_id))
        for g in ctx.actor.grants
        if g.site_id is not None
    ]


def _row(p: Participant) -> _Row:
    zone = ZoneInfo(p.timezone)
    return _Row(
        subject_id=p.subject_id,
        status=str(p.status),
        registered=p.registered_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"),
        zone=p.timezone,
    )


async def authenticate_origin(request: Request, services: Services) -> RequestContext:
    """The request's origin (request id, client address) without reading any bearer token."""
    ctx = await authenticate(_without_authorization(request), services)
    return RequestContext(actor=ctx.actor, origin=ctx.origin or Origin())


def _without_authorization(request: Request) -> Request:
    scope = dict(request.scope)
    scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    return Request(scope)
