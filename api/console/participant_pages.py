"""The participant page and what site staff, monitors and data managers do from it: enrol,
visits, diary corrections and queries. Every post checks the CSRF token, then calls the same
use case as GraphQL; what the policy refuses comes back as a page with the domain's code."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar, cast

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api.console import charts, participant_view, web
from api.console.i18n import catalogue, language
from api.services import Services
from domain.data_queries import Target
from domain.design import ContactMode
from domain.errors import DomainError, Invalid
from domain.ids import DataQueryId, ParticipantId, SiteId, VisitDefinitionId, VisitId
from domain.services import alerts as alert_cases
from domain.services import data_queries as query_cases
from domain.services import diaries as diary_cases
from domain.services import enrolment as enrolment_cases
from domain.services import participants as participant_cases
from domain.services import signatures as signature_cases
from domain.services import studies as study_cases
from domain.services import visits as visit_cases
from domain.services.alerts import AlertsUnitOfWork
from domain.signatures import Meaning
from domain.visits import VisitOutcome

E = TypeVar("E", bound=StrEnum)
Action = Callable[[Request, web.SignedIn, dict[str, str]], Awaitable[Response]]


class ParticipantPages:
    def __init__(self, services: Services) -> None:
        self.services = services

    def routes(self) -> list[BaseRoute]:
        posts: dict[str, Action] = {
            "/console/sites/{site}/enrol": self.enrol,
            "/console/participants/{participant}/code": self.issue_code,
            "/console/participants/{participant}/visits": self.schedule,
            "/console/participants/{participant}/queries": self.raise_query,
            "/console/visits/{visit}/reschedule": self.reschedule,
            "/console/visits/{visit}/cancel": self.cancel,
            "/console/visits/{visit}/complete": self.complete,
            "/console/diaries/{entry}/correct": self.correct,
            "/console/queries/{query}/answer": self.answer,
            "/console/queries/{query}/close": self.close,
            "/console/alerts/{alert}/acknowledge": self.acknowledge_alert,
            "/console/records/{kind}/{record}/sign": self.sign,
        }
        return [
            Route("/console/participants/{participant}", self.show, methods=["GET"]),
            *(Route(path, self._post(action), methods=["POST"]) for path, action in posts.items()),
        ]

    # --- the page --------------------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        found = await web.caller(request, self.services)
        if found is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        try:
            pid = ParticipantId(web.path_id(request, "participant", "Participant"))
            view = await participant_view.load(self.services, found.ctx, pid)
        except DomainError as error:
            return web.refusal(request, error, found)
        return web.page(
            request,
            "participant.html",
            signed_in=True,
            csrf=found.csrf,
            v=view,
            modes=list(ContactMode),
            outcomes=list(VisitOutcome),
            # the meanings staff sign with; the use case refuses any other
            meanings=[Meaning.RESPONSIBILITY, Meaning.REVIEW, Meaning.APPROVAL, Meaning.AUTHORSHIP],
        )

    # --- posts -----------------------------------------------------------------------------

    def _post(self, action: Action) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            values = await web.form(request)
            if not web.csrf_ok(request, self.services, values):
                return web.forbidden_csrf()
            found = await web.caller(request, self.services)
            if found is None:
                return RedirectResponse("/console/sign-in", status_code=303)
            try:
                return await action(request, found, values)
            except DomainError as error:
                return web.refusal(request, error, found)

        return handle

    def _back(self, participant_id: object) -> Response:
        return RedirectResponse(f"/console/participants/{participant_id}", status_code=303)

    async def enrol(self, request: Request, me: web.SignedIn, values: dict[str, str]) -> Response:
        site_id = SiteId(web.path_id(request, "site", "Site"))
        participant = await participant_cases.register_participant(
            uow=self.services.uow(),
            ctx=me.ctx,
            site_id=site_id,
            screening_number=values.get("screening_number", ""),
            timezone=values.get("timezone") or None,
        )
        return await self._code_page(request, me, participant.id)

    async def issue_code(
        self, request: Request, me: web.SignedIn, values: dict[str, str]
    ) -> Response:
        pid = ParticipantId(web.path_id(request, "participant", "Participant"))
        return await self._code_page(request, me, pid)

    async def _code_page(self, request: Request, me: web.SignedIn, pid: ParticipantId) -> Response:
        issued = await enrolment_cases.issue_code(
            uow=self.services.uow(), tokens=self.services.tokens, ctx=me.ctx, participant_id=pid
        )
        participant = await participant_cases.get_participant(
            uow=self.services.uow(), ctx=me.ctx, participant_id=pid
        )
        site = await study_cases.get_site(
            uow=self.services.uow(), ctx=me.ctx, site_id=participant.site_id
        )
        t = catalogue(language(request))
        return web.page(
            request,
            "enrolled.html",
            status=201,
            signed_in=True,
            csrf=me.csrf,
            participant=participant,
            code=issued.code,
            expires=web.local(issued.expires_at, site.timezone),
            expires_there=(
                web.local(issued.expires_at, participant.timezone)
                if participant.timezone != site.timezone
                else ""
            ),
            qr=charts.qr_svg(issued.deep_link, t["qr_label"]),
        )

    async def schedule(
        self, request: Request, me: web.SignedIn, values: dict[str, str]
    ) -> Response:
        pid = ParticipantId(web.path_id(request, "participant", "Participant"))
        await visit_cases.schedule(
            uow=self.services.uow(),
            ctx=me.ctx,
            participant_id=pid,
            definition_id=VisitDefinitionId(_uuid(values.get("definition"), "definition")),
            mode=_choice(ContactMode, values.get("mode"), "mode"),
            local_start=_local_start(values.get("local_start")),
            reason=values.get("reason") or None,
        )
        return self._back(pid)

    async def reschedule(
        self, request: Request, me: web.SignedIn, values: dict[str, str]
    ) -> Response:
        visit = await visit_cases.reschedule(
            uow=self.services.uow(),
            ctx=me.ctx,
            visit_id=VisitId(web.path_id(request, "visit", "Visit")),
            local_start=_local_start(values.get("local_start")),
            reason=values.get("reason", ""),
        )
        return self._back(visit.participant_id)

    async def cancel(self, request: Request, me: web.SignedIn, values: dict[str, str]) -> Response:
        visit = await visit_cases.cancel(
            uow=self.services.uow(),
            ctx=me.ctx,
            visit_id=VisitId(web.path_id(request, "visit", "Visit")),
            reason=values.get("reason", ""),
        )
        return self._back(visit.participant_id)

    async def complete(
        self, request: Request, me: web.SignedIn, values: dict[str, str]
    ) -> Response:
        visit = await visit_cases.complete(
            uow=self.services.uow(),
            ctx=me.ctx,
            visit_id=VisitId(web.path_id(request, "visit", "Visit")),
            outcome=_choice(VisitOutcome, values.get("outcome"), "outcome"),
            notes=values.get("notes") or None,
        )
        return self._back(visit.participant_id)

    async def correct(self, request: Request, me: web.SignedIn, values: dict[str, str]) -> Response:
        item, raw = values.get("item", ""), values.get("value", "")
        if not item:
            raise Invalid("item", "Name the item to correct.")
        value: object = int(raw) if raw.lstrip("-").isdigit() else raw
        entry = await diary_cases.correct_entry(
            uow=self.services.uow(),
            ctx=me.ctx,
            entry_id=web.path_id(request, "entry", "Diary entry"),
            changes={item: value},
            reason=values.get("reason", ""),
        )
        return self._back(entry.participant_id)

    async def raise_query(
        self, request: Request, me: web.SignedIn, values: dict[str, str]
    ) -> Response:
        pid = web.path_id(request, "participant", "Participant")
        record_type, _, record_id = values.get("record", "").partition(":")
        await query_cases.raise_query(
            uow=self.services.uow(),
            ctx=me.ctx,
            target=Target(record_type, _uuid(record_id, "record"), values.get("field") or None),
            question=values.get("question", ""),
        )
        return self._back(pid)

    async def answer(self, request: Request, me: web.SignedIn, values: dict[str, str]) -> Response:
        query = await query_cases.answer(
            uow=self.services.uow(),
            ctx=me.ctx,
            query_id=DataQueryId(web.path_id(request, "query", "Query")),
            text=values.get("text", ""),
        )
        return self._back(query.participant_id)

    async def close(self, request: Request, me: web.SignedIn, values: dict[str, str]) -> Response:
        query = await query_cases.close(
            uow=self.services.uow(),
            ctx=me.ctx,
            query_id=DataQueryId(web.path_id(request, "query", "Query")),
        )
        return self._back(query.participant_id)

    async def acknowledge_alert(
        self, request: Request, me: web.SignedIn, values: dict[str, str]
    ) -> Response:
        await alert_cases.acknowledge(
            uow=cast(AlertsUnitOfWork, self.services.uow()),
            ctx=me.ctx,
            alert_id=web.path_id(request, "alert", "Alert"),
            note=values.get("note", ""),
        )
        return RedirectResponse("/console", status_code=303)

    async def sign(self, request: Request, me: web.SignedIn, values: dict[str, str]) -> Response:
        """A signature needs the password again (re-authentication), as over GraphQL."""
        signature = await signature_cases.sign_record(
            uow=self.services.uow(),
            passwords=self.services.passwords,
            ctx=me.ctx,
            record_type=request.path_params["kind"],
            record_id=web.path_id(request, "record", "Record"),
            meaning=_choice(Meaning, values.get("meaning"), "meaning"),
            password=values.get("password", ""),
        )
        located = values.get("participant", "")
        return self._back(_uuid(located, "participant") if located else signature.record_id)


def _uuid(value: str | None, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError as error:
        raise Invalid(field, "Choose one from the list.") from error


def _choice(kind: type[E], value: str | None, field: str) -> E:
    try:
        return kind(value or "")
    except ValueError as error:
        raise Invalid(field, "Choose one from the list.") from error


def _local_start(value: str | None) -> datetime:
    """A datetime-local field: the participant's wall time, without an offset."""
    try:
        parsed = datetime.fromisoformat(value or "")
    except ValueError as error:
        raise Invalid("local_start", "Give a date and time (YYYY-MM-DDTHH:MM).") from error
    if parsed.tzinfo is not None:
        raise Invalid("local_start", "Give the participant's wall time, without an offset.")
    return parsed
