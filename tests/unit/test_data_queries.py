"""Monitors' queries on fakes: fields kept exactly as raised, reopening with a reason."""

from __future__ import annotations

import uuid

import pytest

from domain.actors import RequestContext, Role
from domain.data_queries import DataQuery, QueryStatus, Target
from domain.errors import DomainError, ErrorCode
from domain.participants import Participant
from domain.services import data_queries as cases
from tests.factories import at_site, caller, make_participant, make_site
from tests.fakes import FakeUnitOfWork


async def _world() -> tuple[FakeUnitOfWork, Participant, RequestContext, RequestContext]:
    uow = FakeUnitOfWork()
    site = make_site()
    await uow.sites.add(site)
    person = make_participant(site)
    await uow.participants.try_add(person)
    return uow, person, caller(at_site(Role.MONITOR, site)), caller(at_site(Role.COORDINATOR, site))


async def _raise(uow: FakeUnitOfWork, ctx: RequestContext, target: Target) -> DataQuery:
    return await cases.raise_query(uow=uow, ctx=ctx, target=target, question="Matches source?")


@pytest.mark.parametrize("field", ["PAIN", "screeningNumber", "answers.PAIN", "pain_score"])
async def test_fields_are_kept_exactly_as_raised(field: str) -> None:
    uow, person, monitor, _ = await _world()
    query = await _raise(uow, monitor, Target("Participant", person.id, field))
    assert query.field == field
    assert (await uow.queries.get(query.id)) == query
    logged = {c.field: c.new for c in uow.events[-1].fields}
    assert logged["field"] == field


@pytest.mark.parametrize("field", ["answers..PAIN", "PAIN SCORE", ".PAIN", "x" * 65, "é"])
async def test_malformed_field_paths_are_refused(field: str) -> None:
    with pytest.raises(DomainError) as raised:
        Target("Participant", uuid.uuid4(), field)
    assert (raised.value.code, raised.value.field) == (ErrorCode.VALIDATION_FAILED, "field")


async def test_the_monitor_reopens_a_closed_query_with_a_reason() -> None:
    uow, person, monitor, coordinator = await _world()
    query = await _raise(uow, monitor, Target("Participant", person.id, "PAIN"))
    with pytest.raises(DomainError) as raised:  # open queries are not reopened
        await cases.reopen(uow=uow, ctx=monitor, query_id=query.id, reason="Still unclear")
    assert raised.value.code is ErrorCode.INVALID_TRANSITION
    await cases.answer(uow=uow, ctx=coordinator, query_id=query.id, text="Checked.")
    await cases.close(uow=uow, ctx=monitor, query_id=query.id)
    events = len(uow.events)
    for ctx, reason, code in (
        (monitor, "  ", ErrorCode.REASON_REQUIRED),
        (coordinator, "I disagree", ErrorCode.FORBIDDEN),  # the site answers, never reopens
    ):
        with pytest.raises(DomainError) as raised:
            await cases.reopen(uow=uow, ctx=ctx, query_id=query.id, reason=reason)
        assert raised.value.code is code
    assert len(uow.events) == events
    reopened = await cases.reopen(
        uow=uow, ctx=monitor, query_id=query.id, reason="Source shows 7, not 4"
    )
    assert (reopened.status, reopened.closed_at, reopened.answer) == (
        QueryStatus.OPEN,
        None,
        "Checked.",
    )
    event = uow.events[-1]
    assert (event.action, event.reason) == ("reopened", "Source shows 7, not 4")
    answered = await cases.answer(uow=uow, ctx=coordinator, query_id=query.id, text="Now 7.")
    assert answered.status is QueryStatus.ANSWERED
