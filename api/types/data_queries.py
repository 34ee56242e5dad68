"""GraphQL types and mutations for monitors' queries on data points."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.exposure import expose
from api.relay import Connection, Node, from_global_id, page_request, to_global_id
from domain.data_queries import DataQuery, QueryStatus, Target
from domain.errors import NotFound
from domain.ids import DataQueryId, ParticipantId, SiteId
from domain.records import QueryFilter
from domain.services import data_queries as cases

QueryStatusType = strawberry.enum(QueryStatus, name="QueryStatus")


@strawberry.type(name="DataQuery", description="A monitor's question about a data point.")
class DataQueryType(Node):
    question: str
    status: QueryStatus
    raised_at: datetime
    answer: str | None
    answered_at: datetime | None
    closed_at: datetime | None
    version: int
    entity: strawberry.Private[DataQuery]

    @strawberry.field(description="The record the query is about (a global id).")
    def record_id(self) -> strawberry.ID:
        return to_global_id(self.entity.record_type, self.entity.record_id)

    @strawberry.field
    def record_type(self) -> str:
        return self.entity.record_type

    @strawberry.field(
        description="The field, item code or path the query is about, exactly as raised."
    )
    def field(self) -> str | None:
        return self.entity.field

    @strawberry.field
    def participant_id(self) -> strawberry.ID:
        return to_global_id("Participant", self.entity.participant_id)


@strawberry.input
class RaiseQueryInput:
    record_id: strawberry.ID = strawberry.field(
        description="A Participant, Visit, DiaryEntry or Reading."
    )
    field: str | None = strawberry.field(
        default=None,
        description="The field, item code or dotted path the query is about, kept exactly as "
        "given; the audit trail's names (answers.PAIN, screening_number) point at its history.",
    )
    question: str


@strawberry.input
class AnswerQueryInput:
    query_id: strawberry.ID
    answer: str


@strawberry.input
class CloseQueryInput:
    query_id: strawberry.ID


@strawberry.input
class ReopenQueryInput:
    query_id: strawberry.ID
    reason: str = strawberry.field(description="Why the answer did not settle it; required.")


@strawberry.input
class DataQueryFilter:
    site_id: strawberry.ID | None = None
    participant_id: strawberry.ID | None = None
    status: QueryStatus | None = None
    record_id: strawberry.ID | None = None


@strawberry.type
class DataQuerySuccess:
    query: DataQueryType


DataQueryResult = Annotated[DataQuerySuccess | MutationError, strawberry.union("DataQueryResult")]


def _query_id(raw: strawberry.ID) -> DataQueryId:
    return DataQueryId(from_global_id(raw, "DataQuery")[1])


async def query_by_id(info: Info, raw: DataQueryId) -> DataQueryType | None:
    try:
        found = await cases.get(
            uow=info.context.services.uow(), ctx=info.context.caller, query_id=raw
        )
    except NotFound:
        return None
    return expose(DataQueryType, found)


@strawberry.type
class DataQueryQueries:
    @strawberry.field(description="Queries on the data you may see.")
    async def data_queries(
        self,
        info: Info,
        *,
        filter: DataQueryFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[DataQueryType]:
        f = filter or DataQueryFilter()
        filters = QueryFilter(
            site_id=SiteId(from_global_id(f.site_id, "Site")[1]) if f.site_id else None,
            participant_id=ParticipantId(from_global_id(f.participant_id, "Participant")[1])
            if f.participant_id
            else None,
            status=QueryStatus(f.status) if f.status else None,
            record_id=from_global_id(f.record_id)[1] if f.record_id else None,
        )
        page = await cases.page(
            uow=info.context.services.uow(),
            ctx=info.context.caller,
            filters=filters,
            request=page_request(first, after, "query", uuid.UUID, last=last, before=before),
        )
        return Connection[DataQueryType].of(
            page, lambda q: expose(DataQueryType, q), lambda q: (str(q.id),), "query"
        )


@strawberry.type
class DataQueryMutations:
    @strawberry.mutation(description="Raise a query on a data point (monitors, data managers).")
    async def raise_query(self, info: Info, input: RaiseQueryInput) -> DataQueryResult:
        async def run() -> DataQuerySuccess:
            record_type, record_id = from_global_id(input.record_id)
            query = await cases.raise_query(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                target=Target(record_type, record_id, input.field),
                question=input.question,
            )
            return DataQuerySuccess(query=expose(DataQueryType, query))

        return await attempt(run)

    @strawberry.mutation(description="Answer a query (site staff).")
    async def answer_query(self, info: Info, input: AnswerQueryInput) -> DataQueryResult:
        async def run() -> DataQuerySuccess:
            query = await cases.answer(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                query_id=_query_id(input.query_id),
                text=input.answer,
            )
            return DataQuerySuccess(query=expose(DataQueryType, query))

        return await attempt(run)

    @strawberry.mutation(description="Close a query (monitors, data managers).")
    async def close_query(self, info: Info, input: CloseQueryInput) -> DataQueryResult:
        async def run() -> DataQuerySuccess:
            query = await cases.close(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                query_id=_query_id(input.query_id),
            )
            return DataQuerySuccess(query=expose(DataQueryType, query))

        return await attempt(run)

    @strawberry.mutation(
        description="Reopen a closed query with a reason (monitors, data managers)."
    )
    async def reopen_query(self, info: Info, input: ReopenQueryInput) -> DataQueryResult:
        async def run() -> DataQuerySuccess:
            query = await cases.reopen(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                query_id=_query_id(input.query_id),
                reason=input.reason,
            )
            return DataQuerySuccess(query=expose(DataQueryType, query))

        return await attempt(run)
