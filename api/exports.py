"""Export files on the server: downloaded through an authorised, audited route.

Exports run in the worker (`hearth worker`), which writes each job's files under
`HEARTH_EXPORT_DIR/<job id>/`; the server reads them from the same directory, so server and
worker share it (one machine, or a shared volume).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from api.export_files import ExportFiles
from api.http import authenticate, refused
from api.services import Services
from domain.errors import DomainError, ErrorCode
from domain.exports import MANIFEST, SIGNATURE
from domain.services import exports as cases

__all__ = ["ExportFiles", "download"]

_MEDIA_TYPES = {
    ".xml": "application/xml",
    ".ndjson": "application/fhir+ndjson",
    ".csv": "text/csv",
    ".json": "application/json",
    ".sig": "application/json",
}


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
            if job.files_removed_at is not None:
                return _error(410, "GONE", "The export's files were deleted after retention.")
            if not path.is_file():  # written on another machine, or removed by hand
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
