"""GraphQL types and mutations for remote visits."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.exposure import expose
from api.relay import Connection, Node, from_global_id, instant, page_request, to_global_id
from api.types.signatures import SignatureType, signatures_of
from domain.design import ContactMode
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ParticipantId, SiteId, VisitDefinitionId, VisitId
from domain.reason_codes import ReasonCode
from domain.records import VisitFilter
from domain.services import visits as cases
from domain.visits import UNCHANGED, Unchanged, Visit, VisitOutcome, VisitStatus

if TYPE_CHECKING:
    from api.types.participants import ParticipantType

VisitStatusType = strawberry.enum(VisitStatus, name="VisitStatus")
VisitOutcomeType = strawberry.enum(VisitOutcome, name="VisitOutcome")


@strawberry.type(name="Visit", description="A scheduled remote (or site) visit.")
class VisitType(Node):
    mode: ContactMode
    timezone: str
    starts_at: datetime = strawberry.field(description="The same moment, with its offset.")
    ends_at: datetime
    duration_minutes: int
    status: VisitStatus
    out_of_window: bool = strawberry.field(description="Scheduled outside the visit's window.")
    outcome: VisitOutcome | None
    completed_at: datetime | None
    version: int
    entity: strawberry.Private[Visit]

    @strawberry.field(
        description="Wall time in the participant's zone, no offset: 2026-04-01T09:00:00."
    )
    def local_start(self) -> str:
        return self.entity.local_start.isoformat()

    @strawberry.field
    def assignee_id(self) -> strawberry.ID | None:
        return (
            to_global_id("StaffUser", self.entity.assignee_id) if self.entity.assignee_id else None
        )

    @strawberry.field(description="The visit's code and name in the schedule of assessments.")
    def definition_id(self) -> strawberry.ID:
        return to_global_id("VisitDefinition", self.entity.definition_id)

    @strawberry.field
    async def participant(
        self, info: Info
    ) -> Annotated[ParticipantType, strawberry.lazy("api.types.participants")] | None:
        from api.types.participants import participant_by_id

        return await participant_by_id(info, self.entity.participant_id)

    @strawberry.field(description="Free-text notes: site staff and the participant only.")
    def notes(self, info: Info) -> str | None:
        return cases.notes(info.context.caller, self.entity)

    @strawberry.field
    async def signatures(self, info: Info) -> list[SignatureType]:
        return await signatures_of(info, "Visit", self.entity.id)


def _local(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as error:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            "Use a wall time such as 2026-04-01T09:00.",
            field="local_start",
        ) from error
    if value.tzinfo is not None:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            "Give the participant's wall time without an offset.",
            field="local_start",
        )
    return value


def _user(raw: strawberry.ID | None) -> uuid.UUID | None:
    return from_global_id(raw, "StaffUser")[1] if raw else None


def _new_assignee(raw: strawberry.ID | None) -> uuid.UUID | Unchanged | None:
    return UNCHANGED if raw is strawberry.UNSET else _user(raw)


@strawberry.input
class ScheduleVisitInput:
    participant_id: strawberry.ID
    visit_definition_id: strawberry.ID
    mode: ContactMode
    local_start: str = strawberry.field(
        description="Participant's wall time, e.g. 2026-04-01T09:00."
    )
    duration_minutes: int = 30
    assignee_id: strawberry.ID | None = None
    reason: str | None = strawberry.field(
        default=None, description="Needed for a time in the past (a visit recorded afterwards)."
    )


@strawberry.input
class RescheduleVisitInput:
    visit_id: strawberry.ID
    local_start: str
    assignee_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Leave out to keep the assignee; null removes them; an id reassigns.",
    )
    reason: str
    reason_code: ReasonCode | None = strawberry.field(
        default=None,
        description="Why, coded (the study's list); OTHER when only the free text is sent.",
    )


@strawberry.input
class CancelVisitInput:
    visit_id: strawberry.ID
    reason: str
    reason_code: ReasonCode | None = strawberry.field(
        default=None,
        description="Why, coded (the study's list); OTHER when only the free text is sent.",
    )


@strawberry.input
class CompleteVisitInput:
    visit_id: strawberry.ID
    outcome: VisitOutcome
    notes: str | None = None


@strawberry.input
class VisitFilterInput:
    site_id: strawberry.ID | None = None
    participant_id: strawberry.ID | None = None
    on: date | None = strawberry.field(
        default=None, description="A day at the site (its time zone)."
    )
    status: VisitStatus | None = None
    assignee_id: strawberry.ID | None = None
    upcoming: bool = strawberry.field(default=False, description="Only visits from now on.")


@strawberry.type
class VisitSuccess:
    visit: VisitType


VisitResult = Annotated[VisitSuccess | MutationError, strawberry.union("VisitResult")]


def _visit_id(raw: strawberry.ID) -> VisitId:
    return VisitId(from_global_id(raw, "Visit")[1])


def _filters(info: Info, f: VisitFilterInput | None) -> VisitFilter:
    f = f or VisitFilterInput()
    return VisitFilter(
        site_id=SiteId(from_global_id(f.site_id, "Site")[1]) if f.site_id else None,
        participant_id=ParticipantId(from_global_id(f.participant_id, "Participant")[1])
        if f.participant_id
        else None,
        on=f.on,
        status=VisitStatus(f.status) if f.status else None,
        assignee_id=_user(f.assignee_id),
        upcoming_from=info.context.services.clock.now() if f.upcoming else None,
    )


async def visit_by_id(info: Info, raw: VisitId) -> VisitType | None:
    try:
        visit = await cases.get(
            uow=info.context.services.uow(), ctx=info.context.caller, visit_id=raw
        )
    except NotFound:
        return None
    return expose(VisitType, visit)


@strawberry.type
class VisitQueries:
    @strawberry.field(
        description="Visits you may see: by site, participant, day, status, assignee."
    )
    async def visits(
        self,
        info: Info,
        *,
        filter: VisitFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[VisitType]:
        page = await cases.page(
            uow=info.context.services.uow(),
            ctx=info.context.caller,
            filters=_filters(info, filter),
            request=page_request(
                first, after, "visit", instant, uuid.UUID, last=last, before=before
            ),
        )
        return Connection[VisitType].of(
            page,
            lambda v: expose(VisitType, v),
            lambda v: (v.starts_at.isoformat(), str(v.id)),
            "visit",
        )


@strawberry.type
class VisitMutations:
    @strawberry.mutation(
        description="Schedule a visit in the participant's local time (site staff)."
    )
    async def schedule_visit(self, info: Info, input: ScheduleVisitInput) -> VisitResult:
        async def run() -> VisitSuccess:
            visit = await cases.schedule(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                participant_id=ParticipantId(
                    from_global_id(input.participant_id, "Participant")[1]
                ),
                definition_id=VisitDefinitionId(
                    from_global_id(input.visit_definition_id, "VisitDefinition")[1]
                ),
                mode=ContactMode(input.mode),
                local_start=_local(input.local_start),
                duration_minutes=input.duration_minutes,
                assignee_id=_user(input.assignee_id),
                reason=input.reason,
            )
            return VisitSuccess(visit=expose(VisitType, visit))

        return await attempt(run)

    @strawberry.mutation(description="Move a visit, with a reason.")
    async def reschedule_visit(self, info: Info, input: RescheduleVisitInput) -> VisitResult:
        async def run() -> VisitSuccess:
            visit = await cases.reschedule(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                visit_id=_visit_id(input.visit_id),
                local_start=_local(input.local_start),
                assignee_id=_new_assignee(input.assignee_id),
                reason=input.reason,
                code=input.reason_code,
            )
            return VisitSuccess(visit=expose(VisitType, visit))

        return await attempt(run)

    @strawberry.mutation(description="Cancel a visit, with a reason.")
    async def cancel_visit(self, info: Info, input: CancelVisitInput) -> VisitResult:
        async def run() -> VisitSuccess:
            visit = await cases.cancel(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                visit_id=_visit_id(input.visit_id),
                reason=input.reason,
                code=input.reason_code,
            )
            return VisitSuccess(visit=expose(VisitType, visit))

        return await attempt(run)

    @strawberry.mutation(description="Record how the visit went.")
    async def complete_visit(self, info: Info, input: CompleteVisitInput) -> VisitResult:
        async def run() -> VisitSuccess:
            visit = await cases.complete(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                visit_id=_visit_id(input.visit_id),
                outcome=VisitOutcome(input.outcome),
                notes=input.notes,
            )
            return VisitSuccess(visit=expose(VisitType, visit))

        return await attempt(run)
