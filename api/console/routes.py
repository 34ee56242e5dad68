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
from typing import cast

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api.console import session as cookies
from api.console import web
from api.console.export_pages import ExportPages
from api.console.participant_pages import ParticipantPages
from api.services import Services
from domain import access
from domain.access import Permission, Scope
from domain.actors import RequestContext
from domain.alerts import AlertStatus
from domain.data_queries import QueryStatus
from domain.errors import DomainError, Unauthenticated
from domain.ids import SiteId
from domain.pagination import PageRequest
from domain.participants import Participant
from domain.records import QueryFilter, VisitFilter
from domain.services import alerts as alert_cases
from domain.services import auth as auth_cases
from domain.services import data_queries as query_cases
from domain.services import diaries as diary_cases
from domain.services import participants as participant_cases
from domain.services import studies as study_cases
from domain.services import visits as visit_cases
from domain.services.alerts import ACKNOWLEDGE, AlertsUnitOfWork
from domain.site_changes import SiteChanges
from domain.studies import Site

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class _Row:
    id: str
    subject_id: str
    status: str
    registered: str
    zone: str
    diaries: int
    quarantined: int


class Console:
    def __init__(self, services: Services, changes: SiteChanges) -> None:
        self.services = services
        self.changes = changes
        self.participant_pages = ParticipantPages(services)
        self.export_pages = ExportPages(services)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/console", self.dashboard, methods=["GET"]),
            Route("/console/sign-in", self.sign_in_page, methods=["GET"]),
            Route("/console/sign-in", self.sign_in, methods=["POST"]),
            Route("/console/sign-out", self.sign_out, methods=["POST"]),
            Route("/console/sites/{site}/participants", self.participants, methods=["GET"]),
            Route("/console/sites/{site}/events", self.events, methods=["GET"]),
            *self.participant_pages.routes(),
            *self.export_pages.routes(),
            Mount("/console/static", StaticFiles(directory=_HERE / "static"), name="console"),
        ]

    # --- sign-in / sign-out ----------------------------------------------------------------

    async def sign_in_page(self, request: Request) -> Response:
        nonce = request.cookies.get(cookies.NONCE_COOKIE) or self.services.tokens.new_secret()
        response = web.page(
            request, "sign_in.html", csrf=cookies.csrf_token(self.services.tokens, nonce)
        )
        cookies.set_cookie(response, request, cookies.NONCE_COOKIE, nonce, 3600)
        return response

    async def sign_in(self, request: Request) -> Response:
        form = await web.form(request)
        nonce = request.cookies.get(cookies.NONCE_COOKIE)
        if not cookies.csrf_valid(self.services.tokens, nonce, form.get("csrf")):
            return web.forbidden_csrf()
        email, password = form.get("email"), form.get("password")
        ctx = await web.authenticate_origin(request, self.services)
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
            return web.page(request, "sign_in.html", status=401, csrf=csrf, refused=True)
        response = RedirectResponse("/console", status_code=303)
        lifetime = int((signed_in.access_expires_at - self.services.clock.now()).total_seconds())
        cookies.set_cookie(
            response, request, cookies.COOKIE, signed_in.access_token, max(lifetime, 1)
        )
        cookies.clear_cookie(response, request, cookies.NONCE_COOKIE)
        return response

    async def sign_out(self, request: Request) -> Response:
        form = await web.form(request)
        if not web.csrf_ok(request, self.services, form):
            return web.forbidden_csrf()
        response = RedirectResponse("/console/sign-in", status_code=303)
        cookies.clear_cookie(response, request, cookies.COOKIE)
        return response

    # --- dashboard -------------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        found = await web.caller(request, self.services)
        if found is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        sites = []
        for site_id, scope in _sites(found.ctx):
            if access.allows(found.ctx.actor, Permission.PARTICIPANT_READ, scope):
                sites.append(await self._summary(found.ctx, site_id))
        exportable = sorted(
            {
                g.study_id
                for g in found.ctx.actor.grants
                if g.study_id is not None
                and access.allows(found.ctx.actor, Permission.EXPORT, Scope(study_id=g.study_id))
            }
        )
        studies = [
            await study_cases.get_study(uow=self.services.uow(), ctx=found.ctx, study_id=s)
            for s in exportable
        ]
        return web.page(
            request,
            "dashboard.html",
            signed_in=True,
            csrf=found.csrf,
            sites=sites,
            studies=studies,
        )

    async def _summary(self, ctx: RequestContext, site_id: SiteId) -> dict[str, object]:
        """What the dashboard shows of one site, all read through the use cases."""
        uow = self.services.uow
        site = await study_cases.get_site(uow=uow(), ctx=ctx, site_id=site_id)
        scope = Scope(study_id=site.study_id, site_id=site.id)
        compliance = {
            name: await diary_cases.site_compliance(
                uow=uow(), ctx=ctx, site_id=site_id, last_days=days
            )
            for name, days in (("last_7", 7), ("last_28", 28), ("all", None))
        }
        alerts = await alert_cases.of_site(
            uow=cast(AlertsUnitOfWork, uow()), ctx=ctx, site_id=site_id, status=AlertStatus.OPEN
        )
        queries = await query_cases.page(
            uow=uow(),
            ctx=ctx,
            filters=QueryFilter(site_id=site_id, status=QueryStatus.OPEN),
            request=PageRequest(first=100),
        )
        upcoming = await visit_cases.page(
            uow=uow(),
            ctx=ctx,
            filters=VisitFilter(site_id=site_id, upcoming_from=self.services.clock.now()),
            request=PageRequest(first=20),
        )
        rows = await self._rows(ctx, site)
        subjects = {r.id: r.subject_id for r in rows}
        return {
            "site": site,
            "rows": rows,
            "compliance": compliance,
            "alerts": [
                {
                    "id": str(a.id),
                    "kind": a.kind.value,
                    "cause": a.cause,
                    "raised": web.local(a.raised_at, site.timezone),
                    "subject": subjects.get(str(a.participant_id), ""),
                    "participant_id": str(a.participant_id),
                }
                for a in alerts
            ],
            "may_acknowledge": access.allows(ctx.actor, ACKNOWLEDGE, scope),
            "open_queries": len(queries.items),
            "quarantined": sum(r.quarantined for r in rows),
            "upcoming": [
                {
                    "subject": subjects.get(str(v.participant_id), ""),
                    "starts": web.local(v.starts_at, site.timezone),
                    "participant_id": str(v.participant_id),
                }
                for v in upcoming.items
                if v.status == "SCHEDULED"
            ],
            "may_register": access.allows(ctx.actor, Permission.PARTICIPANT_REGISTER, scope),
        }

    async def _rows(self, ctx: RequestContext, site: Site) -> list[_Row]:
        page = await participant_cases.page_participants(
            uow=self.services.uow(),
            ctx=ctx,
            site_ids=[site.id],
            status=None,
            request=PageRequest(first=100),
        )
        return [await self._row(ctx, p, site) for p in page.items]

    async def _row(self, ctx: RequestContext, p: Participant, site: Site) -> _Row:
        entries = await diary_cases.entries(
            uow=self.services.uow(), ctx=ctx, participant_id=p.id, request=PageRequest(first=100)
        )
        return _Row(
            id=str(p.id),
            subject_id=p.subject_id,
            status=str(p.status),
            registered=web.local(p.registered_at, site.timezone),
            zone=p.timezone,
            diaries=len(entries.items),
            quarantined=sum(e.status == "QUARANTINED" for e in entries.items),
        )

    async def _site(self, request: Request) -> tuple[web.SignedIn, SiteId] | Response:
        found = await web.caller(request, self.services)
        if found is None:
            return Response("Sign in first.", status_code=401)
        try:
            site_id = SiteId(uuid.UUID(request.path_params["site"]))
        except ValueError:
            return Response("Not a site id.", status_code=400)
        scopes = [scope for sid, scope in _sites(found.ctx) if sid == site_id]
        if not any(access.allows(found.ctx.actor, Permission.PARTICIPANT_READ, s) for s in scopes):
            return Response("Forbidden.", status_code=403)
        return found, site_id

    async def participants(self, request: Request) -> Response:
        found = await self._site(request)
        if isinstance(found, Response):
            return found
        me, site_id = found
        summary = await self._summary(me.ctx, site_id)
        return web.page(request, "site_summary.html", s=summary, csrf=me.csrf)

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


def _sites(ctx: RequestContext) -> list[tuple[SiteId, Scope]]:
    """The sites the caller holds a site grant on, each with the scope the policy judges."""
    return [
        (g.site_id, Scope(study_id=g.study_id, site_id=g.site_id))
        for g in ctx.actor.grants
        if g.site_id is not None
    ]
