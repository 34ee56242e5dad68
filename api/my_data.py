"""GET /my-data/{token}: the participant's data archive, once, by the link they were given.

The link is the credential (a random token, stored only as its digest), so no sign-in is
needed: the app may hand it to the phone's browser. It works once and until it expires.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.logging import request_id_var
from api.services import Services
from domain.actors import Origin, RequestContext, system_actor
from domain.errors import DomainError, ErrorCode
from domain.services import data_downloads as cases
from domain.services.data_downloads import DownloadsUnitOfWork

PATH = "/my-data/{token}"
LINK_ACTOR = system_actor("data-download-link")
_STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.DOWNLOAD_EXPIRED: 410,
    ErrorCode.DOWNLOAD_NOT_READY: 409,
}


def link(services: Services) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        origin = Origin(
            request_id=request_id_var.get(),
            client_address=request.client.host if request.client else None,
        )
        ctx = RequestContext(actor=LINK_ACTOR, origin=origin)
        try:
            archive = await cases.fetch(
                uow=cast(DownloadsUnitOfWork, services.uow()),
                ctx=ctx,
                token=request.path_params["token"],
            )
        except DomainError as error:
            body = {
                "errors": [{"message": error.message, "extensions": {"code": error.code.value}}]
            }
            return JSONResponse(body, status_code=_STATUS.get(error.code, 409))
        return Response(
            archive,
            media_type="application/zip",
            headers={
                "content-disposition": 'attachment; filename="my-data.zip"',
                "cache-control": "no-store",
            },
        )

    return endpoint
