"""GraphQL types and mutations for protocol deviations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import Node, from_global_id, to_global_id
from api.types.adverse_events import ReasonCodeType
from domain.deviations import (
    DeviationCategory,
    DeviationSeverity,
    DeviationSource,
    DeviationStatus,
    ProtocolDeviation,
)
from domain.errors import NotFound
from domain.ids import ParticipantId
from domain.reason_codes import ReasonCode
from domain.services import deviations as cases

CategoryType = strawberry.enum(DeviationCategory, name="DeviationCategory")
SeverityType = strawberry.enum(DeviationSeverity, name="DeviationSeverity")
SourceType = strawberry.enum(DeviationSource, name="DeviationSource")
StatusType = strawberry.enum(DeviationStatus, name="DeviationStatus")
NAME = "ProtocolDeviation"
_ = ReasonCodeType  # the ReasonCode enum is declared once, with adverse events


@strawberry.type(
    name="ProtocolDeviation",
    description="A deviation from the protocol: recorded by staff or raised from the data.",
)
class DeviationType(Node):
    category: DeviationCategory
    severity: DeviationSeverity
    term: str = strawberry.field(description="DVTERM: what deviated.")
    occurred_on: str | None = strawberry.field(description="Partial ISO 8601 date.")
    source: DeviationSource
    trigger_type: str | None = strawberry.field(
        description="Automatic ones: the type of the record whose writing raised it."
    )
    trigger_id: strawberry.ID | None = strawberry.field(
        description="Automatic ones: the global id of that record (null for a reading batch)."
    )
    status: DeviationStatus
    resolution: str | None
    detected_at: datetime
    resolved_at: datetime | None
    reason_code: ReasonCode | None = strawberry.field(
        description="The coded reason of the latest reclassification."
    )
    version: int
    participant_id: strawberry.ID

    @staticmethod
    def of(d: ProtocolDeviation) -> DeviationType:
        trigger = d.trigger
        node = (
            to_global_id(trigger.record_type, trigger.record_id)
            if trigger is not None and trigger.record_type in ("Visit", "DiaryEntry")
            else None
        )
        return DeviationType(
            id=to_global_id(NAME, d.id),
            category=d.category,
            severity=d.severity,
            term=d.term,
            occurred_on=d.occurred_on,
            source=d.source,
            trigger_type=trigger.record_type if trigger else None,
            trigger_id=strawberry.ID(node) if node else None,
            status=d.status,
            resolution=d.resolution,
            detected_at=d.detected_at,
            resolved_at=d.resolved_at,
            reason_code=d.reason_code,
            version=d.version,
            participant_id=strawberry.ID(to_global_id("Participant", d.participant_id)),
        )


@strawberry.input
class RecordDeviationInput:
    participant_id: strawberry.ID
    category: DeviationCategory
    severity: DeviationSeverity
    term: str = strawberry.field(description="What deviated; no personal details.")
    occurred_on: str | None = None


@strawberry.input
class ResolveDeviationInput:
    deviation_id: strawberry.ID
    version: int
    resolution: str


@strawberry.input
class ReclassifyDeviationInput:
    deviation_id: strawberry.ID
    version: int
    category: DeviationCategory
    severity: DeviationSeverity
    reason_code: ReasonCode
    reason: str | None = strawberry.field(
        default=None, description="Optional free text: sealed, site-only."
    )


@strawberry.type
class DeviationSuccess:
    deviation: DeviationType


DeviationResult = Annotated[DeviationSuccess | MutationError, strawberry.union("DeviationResult")]


def _deviation_id(raw: strawberry.ID) -> uuid.UUID:
    return from_global_id(raw, NAME)[1]


def _participant(raw: strawberry.ID) -> ParticipantId:
    return ParticipantId(from_global_id(raw, "Participant")[1])


async def deviation_by_id(info: Info, raw: uuid.UUID) -> DeviationType | None:
    try:
        found = await cases.get(
            uow=info.context.services.uow(), ctx=info.context.caller, deviation_id=raw
        )
    except NotFound:
        return None
    return DeviationType.of(found)


@strawberry.type
class DeviationQueries:
    @strawberry.field(description="A participant's protocol deviations, oldest first.")
    async def protocol_deviations(
        self, info: Info, participant_id: strawberry.ID
    ) -> list[DeviationType]:
        found = await cases.of_participant(
            uow=info.context.services.uow(),
            ctx=info.context.caller,
            participant_id=_participant(participant_id),
        )
        return [DeviationType.of(d) for d in found]


@strawberry.type
class DeviationMutations:
    @strawberry.mutation(description="Site staff record a protocol deviation.")
    async def record_deviation(self, info: Info, input: RecordDeviationInput) -> DeviationResult:
        async def run() -> DeviationSuccess:
            made = await cases.record(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                participant_id=_participant(input.participant_id),
                category=input.category,
                severity=input.severity,
                term=input.term,
                occurred_on=input.occurred_on,
            )
            return DeviationSuccess(deviation=DeviationType.of(made))

        return await attempt(run)

    @strawberry.mutation(description="Say how a deviation was resolved.")
    async def resolve_deviation(self, info: Info, input: ResolveDeviationInput) -> DeviationResult:
        async def run() -> DeviationSuccess:
            done = await cases.resolve(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                deviation_id=_deviation_id(input.deviation_id),
                version=input.version,
                resolution=input.resolution,
            )
            return DeviationSuccess(deviation=DeviationType.of(done))

        return await attempt(run)

    @strawberry.mutation(description="A new category or severity, with a reason code.")
    async def reclassify_deviation(
        self, info: Info, input: ReclassifyDeviationInput
    ) -> DeviationResult:
        async def run() -> DeviationSuccess:
            done = await cases.reclassify(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                deviation_id=_deviation_id(input.deviation_id),
                version=input.version,
                category=input.category,
                severity=input.severity,
                code=input.reason_code,
                reason=input.reason,
            )
            return DeviationSuccess(deviation=DeviationType.of(done))

        return await attempt(run)
