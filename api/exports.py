"""Export jobs in the server: run in the background, downloaded through an authorised route.

`ExportRunner.launch` starts the use case `exports.run` as a task of this process; the job's
progress and heartbeat live in the database, so any worker can answer for it. If the process
stops, the job's heartbeat stops with it and the job reads as failed. Files are kept under
`HEARTH_EXPORT_DIR/<job id>/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from api.http import authenticate, refused
from api.services import Services
from domain.actors import Origin, RequestContext, system_actor
from domain.errors import DomainError, ErrorCode
from domain.exports import MANIFEST, SIGNATURE, ExportJob
from domain.ports import ExportEngine, UnitOfWorkFactory
from domain.services import exports as cases

log = logging.getLogger("hearth.exports")

_MEDIA_TYPES = {
    ".xml": "application/xml",
    ".ndjson": "application/fhir+ndjson",
    ".csv": "text/csv",
    ".json": "application/json",
    ".sig": "application/json",
}


class ExportRunner:
    def __init__(
        self,
        engine: ExportEngine,
        uows: UnitOfWorkFactory,
        root: Path,
        public_key_pem: str,
        concurrency: int = 1,
    ) -> None:
        self.engine = engine
        self.uows = uows
        self.root = root
        self.public_key_pem = public_key_pem  # verifies the manifests this server signs
        self.concurrency = concurrency  # each export holds a database connection throughout
        self._tasks: set[asyncio.Task[ExportJob]] = set()

    @property
    def running(self) -> int:
        return len(self._tasks)

    def ensure_room(self) -> None:
        """Refuse a new export while this process runs as many as it may."""
        if self.running >= self.concurrency:
            raise DomainError(
                ErrorCode.SERVER_BUSY,
                "Another export is running on this server; try again when it has finished.",
            )

    async def reap(self) -> None:
        """At start-up: jobs left running by a server that stopped are recorded as failed."""
        ctx = RequestContext(actor=system_actor("server"), origin=Origin(request_id="startup"))
        try:
            for job in await cases.reap(uows=self.uows, ctx=ctx):
                log.warning(
                    "interrupted export recorded as failed", extra={"export_id": str(job.id)}
                )
        except Exception:
            log.exception("could not check for interrupted exports")

    def directory(self, job_id: uuid.UUID) -> Path:
        return self.root / str(job_id)

    def launch(self, ctx: RequestContext, job: ExportJob) -> None:
        task = asyncio.create_task(self._run(ctx, job), name=f"export-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, ctx: RequestContext, job: ExportJob) -> ExportJob:
        try:
            return await cases.run(
                uows=self.uows,
                engine=self.engine,
                ctx=ctx,
                job=job,
                directory=str(self.directory(job.id)),
            )
        except Exception:
            log.exception("export failed", extra={"export_id": str(job.id)})
            raise

    async def stop(self) -> None:
        """Cancel running exports (they are recorded as failed) and wait for them."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def download(services: Services) -> Callable[[Request], Awaitable[Response]]:
    """GET /exports/{job}/{name}: one file of a finished export, for those who may export."""

    async def endpoint(request: Request) -> Response:
        try:
            caller = await authenticate(request, services)
            job_id = uuid.UUID(request.path_params["job"])
            name = request.path_params["name"]
            # Who may see the job learns whether its files are here; the download itself is
            # recorded only when it happens.
            job = await cases.get(uow=services.uow(), ctx=caller, job_id=job_id)
            if job.file(name) is None and name not in (MANIFEST, SIGNATURE):
                return _error(404, "NOT_FOUND", "No such file in this export.")
            path = services.exports.directory(job_id) / name  # a name the job recorded
            if not path.is_file():  # the job ran on another server, or its files were removed
                return _error(410, "GONE", "The export's files are no longer on this server.")
            await cases.download(uow=services.uow(), ctx=caller, job_id=job_id, name=name)
        except ValueError:
            return _error(404, "NOT_FOUND", "Export not found.")
        except DomainError as error:
            if error.code is ErrorCode.UNAUTHENTICATED:
                return refused(error)
            status = {ErrorCode.FORBIDDEN: 403, ErrorCode.NOT_FOUND: 404}.get(error.code, 409)
            return _error(status, error.code.value, error.message)
        media = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media, filename=name)

    return endpoint


def _error(status: int, code: str, message: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status)
