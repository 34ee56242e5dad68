"""GraphQL types and mutations for adverse events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, cast

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import Node, from_global_id, to_global_id
from api.types.signatures import SignatureType, signatures_of
from domain.adverse_events import (
    ActionTaken,
    AdverseEvent,
    AdverseEventDetails,
    AdverseEventOutcome,
    AdverseEventStatus,
    Relationship,
    ReportedBy,
    Seriousness,
    Severity,
)
from domain.errors import NotFound
from domain.ids import ParticipantId
from domain.reason_codes import ReasonCode
from domain.services import adverse_events as cases
from domain.services.adverse_events import ClinicalUnitOfWork

AdverseEventStatusType = strawberry.enum(AdverseEventStatus, name="AdverseEventStatus")
ReportedByType = strawberry.enum(ReportedBy, name="ReportedBy")
SeverityType = strawberry.enum(Severity, name="AdverseEventSeverity")
SeriousnessType = strawberry.enum(Seriousness, name="Seriousness")
RelationshipType = strawberry.enum(Relationship, name="Relationship")
ActionTakenType = strawberry.enum(ActionTaken, name="ActionTaken")
OutcomeType = strawberry.enum(AdverseEventOutcome, name="AdverseEventOutcome")
ReasonCodeType = strawberry.enum(ReasonCode, name="ReasonCode")


def _uow(info: Info) -> ClinicalUnitOfWork:
    return cast(ClinicalUnitOfWork, info.context.services.uow())


@strawberry.type(
    name="AdverseEvent",
    description="An adverse event: reported by the participant or recorded by the site.",
)
class AdverseEventType(Node):
    status: AdverseEventStatus
    reported_by: ReportedBy
    reported_at: datetime
    recorded_at: datetime | None
    report_due_at: datetime | None = strawberry.field(
        description="Serious events: when the report to the sponsor is due (24 hours)."
    )
    reported_to_sponsor_at: datetime | None
    reason_code: ReasonCode | None = strawberry.field(
        description="The coded reason of the latest correction."
    )
    version: int
    entity: strawberry.Private[AdverseEvent]
    now: strawberry.Private[datetime]

    @staticmethod
    def of(event: AdverseEvent, now: datetime) -> AdverseEventType:
        return AdverseEventType(
            id=to_global_id("AdverseEvent", event.id),
            status=event.status,
            reported_by=event.reported_by,
            reported_at=event.reported_at,
            recorded_at=event.recorded_at,
            report_due_at=event.report_due_at,
            reported_to_sponsor_at=event.reported_to_sponsor_at,
            reason_code=event.reason_code,
            version=event.version,
            entity=event,
            now=now,
        )

    @strawberry.field(description="AETERM: the term as reported.")
    def term(self) -> str:
        return self.entity.details.term

    @strawberry.field(description="Partial ISO 8601 date: 2026, 2026-06 or 2026-06-03.")
    def onset(self) -> str | None:
        return self.entity.details.onset

    @strawberry.field(description="Partial ISO 8601 date.")
    def end(self) -> str | None:
        return self.entity.details.end

    @strawberry.field
    def ongoing(self) -> bool:
        return self.entity.details.ongoing

    @strawberry.field
    def severity(self) -> Severity | None:
        return self.entity.details.severity

    @strawberry.field
    def seriousness(self) -> list[Seriousness]:
        return list(self.entity.details.seriousness)

    @strawberry.field(description="Any seriousness criterion met.")
    def serious(self) -> bool:
        return self.entity.serious

    @strawberry.field
    def relationship(self) -> Relationship | None:
        return self.entity.details.relationship

    @strawberry.field
    def action_taken(self) -> ActionTaken | None:
        return self.entity.details.action_taken

    @strawberry.field
    def outcome(self) -> AdverseEventOutcome | None:
        return self.entity.details.outcome

    @strawberry.field(description="MedDRA lowest level term code.")
    def llt_code(self) -> str | None:
        return self.entity.details.llt_code

    @strawberry.field
    def llt_name(self) -> str | None:
        return self.entity.details.llt_name

    @strawberry.field(description="MedDRA preferred term code.")
    def pt_code(self) -> str | None:
        return self.entity.details.pt_code

    @strawberry.field
    def pt_name(self) -> str | None:
        return self.entity.details.pt_name

    @strawberry.field(description="Serious, not reported to the sponsor, and past due.")
    def overdue(self) -> bool:
        return self.entity.overdue(self.now)

    @strawberry.field(description="The participant's own words: their site and they only.")
    def description(self, info: Info) -> str | None:
        return cases.description(info.context.caller, self.entity)

    @strawberry.field
    def participant_id(self) -> strawberry.ID:
        return to_global_id("Participant", self.entity.participant_id)

    @strawberry.field
    async def signatures(self, info: Info) -> list[SignatureType]:
        return await signatures_of(info, "AdverseEvent", self.entity.id)


@strawberry.input
class AdverseEventInput:
    term: str
    onset: str | None = None
    end: str | None = None
    ongoing: bool = False
    severity: Severity | None = None
    seriousness: list[Seriousness] = strawberry.field(default_factory=list)
    relationship: Relationship | None = None
    action_taken: ActionTaken | None = None
    outcome: AdverseEventOutcome | None = None
    llt_code: str | None = None
    llt_name: str | None = None
    pt_code: str | None = None
    pt_name: str | None = None

    def details(self) -> AdverseEventDetails:
        return AdverseEventDetails(
            term=self.term,
            onset=self.onset,
            end=self.end,
            ongoing=self.ongoing,
            severity=self.severity,
            seriousness=tuple(self.seriousness),
            relationship=self.relationship,
            action_taken=self.action_taken,
            outcome=self.outcome,
            llt_code=self.llt_code,
            llt_name=self.llt_name,
            pt_code=self.pt_code,
            pt_name=self.pt_name,
        )


@strawberry.input
class ReportAdverseEventInput:
    participant_id: strawberry.ID
    description: str = strawberry.field(description="What happened, in the participant's words.")
    onset: str | None = None
    ongoing: bool = True


@strawberry.input
class RecordAdverseEventInput:
    participant_id: strawberry.ID
    event: AdverseEventInput


@strawberry.input
class ConfirmAdverseEventInput:
    adverse_event_id: strawberry.ID
    version: int
    event: AdverseEventInput


@strawberry.input
class CorrectAdverseEventInput:
    adverse_event_id: strawberry.ID
    version: int
    event: AdverseEventInput
    reason_code: ReasonCode
    reason: str | None = strawberry.field(
        default=None, description="Optional free text: sealed, site-only."
    )


@strawberry.input
class ReportAdverseEventToSponsorInput:
    adverse_event_id: strawberry.ID
    reported_at: datetime | None = strawberry.field(default=None, description="Default: now.")


@strawberry.type
class AdverseEventSuccess:
    adverse_event: AdverseEventType


AdverseEventResult = Annotated[
    AdverseEventSuccess | MutationError, strawberry.union("AdverseEventResult")
]


def _event_id(raw: strawberry.ID) -> uuid.UUID:
    return from_global_id(raw, "AdverseEvent")[1]


def _participant(raw: strawberry.ID) -> ParticipantId:
    return ParticipantId(from_global_id(raw, "Participant")[1])


def _shown(info: Info, event: AdverseEvent) -> AdverseEventSuccess:
    return AdverseEventSuccess(
        adverse_event=AdverseEventType.of(event, info.context.services.clock.now())
    )


async def adverse_event_by_id(info: Info, raw: uuid.UUID) -> AdverseEventType | None:
    try:
        event = await cases.get(uow=_uow(info), ctx=info.context.caller, event_id=raw)
    except NotFound:
        return None
    return AdverseEventType.of(event, info.context.services.clock.now())


@strawberry.type
class AdverseEventQueries:
    @strawberry.field(description="A participant's adverse events, oldest first.")
    async def adverse_events(
        self, info: Info, participant_id: strawberry.ID
    ) -> list[AdverseEventType]:
        events = await cases.of_participant(
            uow=_uow(info), ctx=info.context.caller, participant_id=_participant(participant_id)
        )
        now = info.context.services.clock.now()
        return [AdverseEventType.of(e, now) for e in events]


@strawberry.type
class AdverseEventMutations:
    @strawberry.mutation(description="The participant reports a symptom from the app.")
    async def report_adverse_event(
        self, info: Info, input: ReportAdverseEventInput
    ) -> AdverseEventResult:
        async def run() -> AdverseEventSuccess:
            event = await cases.report(
                uow=_uow(info),
                ctx=info.context.caller,
                participant_id=_participant(input.participant_id),
                description=input.description,
                onset=input.onset,
                ongoing=input.ongoing,
            )
            return _shown(info, event)

        return await attempt(run)

    @strawberry.mutation(description="Site staff record an adverse event in full.")
    async def record_adverse_event(
        self, info: Info, input: RecordAdverseEventInput
    ) -> AdverseEventResult:
        async def run() -> AdverseEventSuccess:
            event = await cases.record(
                uow=_uow(info),
                ctx=info.context.caller,
                participant_id=_participant(input.participant_id),
                details=input.event.details(),
            )
            return _shown(info, event)

        return await attempt(run)

    @strawberry.mutation(description="Site staff confirm what the participant reported.")
    async def confirm_adverse_event(
        self, info: Info, input: ConfirmAdverseEventInput
    ) -> AdverseEventResult:
        async def run() -> AdverseEventSuccess:
            event = await cases.confirm(
                uow=_uow(info),
                ctx=info.context.caller,
                event_id=_event_id(input.adverse_event_id),
                version=input.version,
                details=input.event.details(),
            )
            return _shown(info, event)

        return await attempt(run)

    @strawberry.mutation(description="A new version of a recorded event, with a reason code.")
    async def correct_adverse_event(
        self, info: Info, input: CorrectAdverseEventInput
    ) -> AdverseEventResult:
        async def run() -> AdverseEventSuccess:
            event = await cases.correct(
                uow=_uow(info),
                ctx=info.context.caller,
                event_id=_event_id(input.adverse_event_id),
                version=input.version,
                details=input.event.details(),
                code=input.reason_code,
                reason=input.reason,
            )
            return _shown(info, event)

        return await attempt(run)

    @strawberry.mutation(description="Stop a serious event's reporting clock.")
    async def report_adverse_event_to_sponsor(
        self, info: Info, input: ReportAdverseEventToSponsorInput
    ) -> AdverseEventResult:
        async def run() -> AdverseEventSuccess:
            event = await cases.reported_to_sponsor(
                uow=_uow(info),
                ctx=info.context.caller,
                event_id=_event_id(input.adverse_event_id),
                at=input.reported_at,
            )
            return _shown(info, event)

        return await attempt(run)
