"""GraphQL for the site's review of quarantined readings: list, accept, reject."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import Connection, from_global_id, page_request
from api.types.devices import ReadingType
from domain.ids import ParticipantId, SiteId
from domain.services import quarantine as cases


@strawberry.input
class ReviewReadingInput:
    reading_id: strawberry.ID
    reason: str = strawberry.field(description="Why; required, it goes into the audit trail.")


@strawberry.type
class ReviewReadingSuccess:
    reading: ReadingType


ReviewReadingResult = Annotated[
    ReviewReadingSuccess | MutationError, strawberry.union("ReviewReadingResult")
]


@strawberry.type
class QuarantineQueries:
    @strawberry.field(
        description="A site's readings waiting for review (optionally one participant's)."
    )
    async def quarantined_readings(
        self,
        info: Info,
        site_id: strawberry.ID,
        participant_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ReadingType]:
        page = await cases.quarantined(
            uow=info.context.services.uow(),
            ctx=info.context.caller,
            site_id=SiteId(from_global_id(site_id, "Site")[1]),
            participant_id=ParticipantId(from_global_id(participant_id, "Participant")[1])
            if participant_id
            else None,
            request=page_request(first, after, "reading", datetime.fromisoformat, uuid.UUID),
        )
        return Connection[ReadingType].of(
            page,
            ReadingType.of,
            lambda r: (r.reading.effective_start.isoformat(), str(r.id)),
            "reading",
        )


@strawberry.type
class QuarantineMutations:
    @strawberry.mutation(
        description="Accept a quarantined reading into the study data (site staff, reason)."
    )
    async def accept_quarantined_reading(
        self, info: Info, input: ReviewReadingInput
    ) -> ReviewReadingResult:
        async def run() -> ReviewReadingSuccess:
            reading = await cases.accept(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                reading_id=from_global_id(input.reading_id, "Reading")[1],
                reason=input.reason,
            )
            return ReviewReadingSuccess(reading=ReadingType.of(reading))

        return await attempt(run)

    @strawberry.mutation(
        description="Reject a quarantined reading: kept, flagged, out of analyses (reason)."
    )
    async def reject_quarantined_reading(
        self, info: Info, input: ReviewReadingInput
    ) -> ReviewReadingResult:
        async def run() -> ReviewReadingSuccess:
            reading = await cases.reject(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                reading_id=from_global_id(input.reading_id, "Reading")[1],
                reason=input.reason,
            )
            return ReviewReadingSuccess(reading=ReadingType.of(reading))

        return await attempt(run)
