"""Use cases for monitors' queries: raise on a data point, answer at the site, close, reopen."""

from __future__ import annotations

from domain import access, audit
from domain.access import Permission
from domain.actors import Grant, RequestContext
from domain.data_queries import DataQuery, Target
from domain.errors import DomainError, ErrorCode
from domain.ids import DataQueryId
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.records import Located, QueryFilter


def query_scope(q: DataQuery) -> access.Scope:
    return access.Scope(q.study_id, q.site_id, q.participant_id)


def _located_scope(located: Located) -> access.Scope:
    return located.scope


def _subject(q: DataQuery) -> audit.Subject:
    return audit.Subject(study_id=q.study_id, site_id=q.site_id, participant_id=q.participant_id)


async def raise_query(
    *, uow: UnitOfWork, ctx: RequestContext, target: Target, question: str
) -> DataQuery:
    """Monitors and data managers ask the site about one record (and field) they can see."""
    async with uow:
        found = await uow.records.locate(target.record_type, target.record_id)
        located = access.visible(ctx.actor, Permission.QUERY_READ, found, _located_scope, "Record")
        grant = access.require(ctx.actor, Permission.QUERY_RAISE, located.scope)
        query = DataQuery.raise_(
            study_id=located.study_id,
            site_id=located.site_id,
            participant_id=located.participant_id,
            target=target,
            question=question,
            by=ctx.actor.id or located.participant_id,
            now=uow.clock.now(),
        )
        await uow.queries.add(query)
        uow.record(audit.created(ctx, grant, query, _subject(query)))
        await uow.commit()
    return query


async def _query(
    uow: UnitOfWork, ctx: RequestContext, query_id: DataQueryId, permission: Permission
) -> tuple[DataQuery, Grant]:
    found = await uow.queries.get(query_id)
    query = access.visible(ctx.actor, Permission.QUERY_READ, found, query_scope, "Query")
    return query, access.require(ctx.actor, permission, query_scope(query))


async def answer(
    *, uow: UnitOfWork, ctx: RequestContext, query_id: DataQueryId, text: str
) -> DataQuery:
    async with uow:
        before, grant = await _query(uow, ctx, query_id, Permission.QUERY_ANSWER)
        after = before.answered(text, ctx.actor.id or before.raised_by, uow.clock.now())
        return await _store(uow, ctx, grant, before=before, after=after, action="answered")


async def close(*, uow: UnitOfWork, ctx: RequestContext, query_id: DataQueryId) -> DataQuery:
    async with uow:
        before, grant = await _query(uow, ctx, query_id, Permission.QUERY_RAISE)
        after = before.closed(ctx.actor.id or before.raised_by, uow.clock.now())
        return await _store(uow, ctx, grant, before=before, after=after, action="closed")


async def reopen(
    *, uow: UnitOfWork, ctx: RequestContext, query_id: DataQueryId, reason: str
) -> DataQuery:
    """The monitor (or data manager) who may close a query may reopen it, saying why."""
    why = audit.normalise_reason(reason)
    async with uow:
        before, grant = await _query(uow, ctx, query_id, Permission.QUERY_RAISE)
        if why is None:
            raise DomainError(
                ErrorCode.REASON_REQUIRED, "Say why the query is reopened.", field="reason"
            )
        after = before.reopened()
        return await _store(
            uow, ctx, grant, before=before, after=after, action="reopened", reason=why
        )


async def _store(
    uow: UnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    *,
    before: DataQuery,
    after: DataQuery,
    action: str,
    reason: str | None = None,
) -> DataQuery:
    await uow.queries.update(after)
    change = audit.updated(
        ctx, grant, before, after, _subject(before), action=action, reason=reason
    )
    if change is not None:
        uow.record(change)
    await uow.commit()
    return after


async def page(
    *, uow: UnitOfWork, ctx: RequestContext, filters: QueryFilter, request: PageRequest
) -> Page[DataQuery]:
    access.require_somewhere(ctx.actor, Permission.QUERY_READ)
    visible = access.read_filter(ctx.actor, Permission.QUERY_READ)
    async with uow:
        return await uow.queries.page(filters, visible, request)


async def get(*, uow: UnitOfWork, ctx: RequestContext, query_id: DataQueryId) -> DataQuery:
    async with uow:
        found = await uow.queries.get(query_id)
    return access.visible(ctx.actor, Permission.QUERY_READ, found, query_scope, "Query")
