"""Exports from the console: data managers start a study's export and download its files.

The same use cases as GraphQL and the bearer-token download route decide who may: they
require the EXPORT permission on the study, and every download is recorded in the trail."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from api.console import web
from api.services import Services
from domain.errors import DomainError, Invalid, NotFound
from domain.exports import MANIFEST, SIGNATURE, ExportFormat
from domain.ids import StudyId
from domain.services import exports as export_cases
from domain.services import studies as study_cases


class ExportPages:
    def __init__(self, services: Services) -> None:
        self.services = services

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/console/studies/{study}/exports", self.show, methods=["GET"]),
            Route("/console/studies/{study}/exports", self.start, methods=["POST"]),
            Route("/console/exports/{job}/{name}", self.download, methods=["GET"]),
        ]

    async def show(self, request: Request) -> Response:
        me = await web.caller(request, self.services)
        if me is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        try:
            study_id = StudyId(web.path_id(request, "study", "Study"))
            study = await study_cases.get_study(
                uow=self.services.uow(), ctx=me.ctx, study_id=study_id
            )
            jobs = await export_cases.jobs(uow=self.services.uow(), ctx=me.ctx, study=study)
        except DomainError as error:
            return web.refusal(request, error, me)
        now = self.services.clock.now()
        return web.page(
            request,
            "exports.html",
            signed_in=True,
            csrf=me.csrf,
            study=study,
            formats=list(ExportFormat),
            jobs=[
                {
                    "job": j,
                    "status": str(j.status_at(now)),
                    "requested": web.local(j.requested_at, "UTC"),
                    "files": [f.name for f in j.files] + ([MANIFEST, SIGNATURE] if j.files else []),
                }
                for j in jobs
            ],
        )

    async def start(self, request: Request) -> Response:
        values = await web.form(request)
        if not web.csrf_ok(request, self.services, values):
            return web.forbidden_csrf()
        me = await web.caller(request, self.services)
        if me is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        try:
            study_id = StudyId(web.path_id(request, "study", "Study"))
            try:
                chosen = ExportFormat(values.get("format", ""))
            except ValueError as error:
                raise Invalid("format", "Choose one from the list.") from error
            await export_cases.start(
                uow=self.services.uow(), ctx=me.ctx, study_id=study_id, format=chosen
            )
        except DomainError as error:
            return web.refusal(request, error, me)
        return RedirectResponse(f"/console/studies/{study_id}/exports", status_code=303)

    async def download(self, request: Request) -> Response:
        me = await web.caller(request, self.services)
        if me is None:
            return RedirectResponse("/console/sign-in", status_code=303)
        name = request.path_params["name"]
        try:
            job_id = web.path_id(request, "job", "Export")
            job = await export_cases.get(uow=self.services.uow(), ctx=me.ctx, job_id=job_id)
            if job.file(name) is None and name not in (MANIFEST, SIGNATURE):
                raise NotFound("Export file")
            path = self.services.exports.directory(job_id) / name  # a name the job recorded
            if job.files_removed_at is not None or not path.is_file():
                raise NotFound("Export file")
            await export_cases.download(
                uow=self.services.uow(), ctx=me.ctx, job_id=job_id, name=name
            )
        except DomainError as error:
            return web.refusal(request, error, me)
        response = FileResponse(path, filename=name, media_type="application/octet-stream")
        response.headers["cache-control"] = "no-store"
        return response
