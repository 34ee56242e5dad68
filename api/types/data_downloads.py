"""GraphQL for the participant's own data: ask for the download link."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import from_global_id, to_global_id
from domain.ids import ParticipantId
from domain.services import data_downloads as cases
from domain.services.data_downloads import DownloadsUnitOfWork


@strawberry.input
class DownloadMyDataInput:
    participant_id: strawberry.ID


@strawberry.type
class DownloadMyDataSuccess:
    download_id: strawberry.ID
    url: str = strawberry.field(
        description="GET it (no sign-in needed) once the worker has built it: a ZIP with the "
        "FHIR Bundle (bundle.json) and a readable page (index.html). Works once; 409 "
        "DOWNLOAD_NOT_READY while it is being built, 410 DOWNLOAD_EXPIRED once used or expired."
    )
    expires_at: datetime


DownloadMyDataResult = Annotated[
    DownloadMyDataSuccess | MutationError, strawberry.union("DownloadMyDataResult")
]


@strawberry.type
class DataDownloadMutations:
    @strawberry.mutation(
        description="Everything about a participant, to take home (their app, or their site "
        "for them): built by the worker; the link is single-use and expires in 24 hours."
    )
    async def download_my_data(
        self, info: Info, input: DownloadMyDataInput
    ) -> DownloadMyDataResult:
        async def run() -> DownloadMyDataSuccess:
            download, token = await cases.request(
                uow=cast(DownloadsUnitOfWork, info.context.services.uow()),
                ctx=info.context.caller,
                participant_id=ParticipantId(
                    from_global_id(input.participant_id, "Participant")[1]
                ),
            )
            return DownloadMyDataSuccess(
                download_id=to_global_id("DataDownload", download.id),
                url=f"/my-data/{token}",
                expires_at=download.expires_at,
            )

        return await attempt(run)
