"""Repositories and use cases on a real PostgreSQL, each test rolled back."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from domain.access import ReadFilter
from domain.actors import Role
from domain.errors import DomainError, ErrorCode
from domain.pagination import PageRequest
from domain.participants import ParticipantStatus
from domain.services import participants, studies
from domain.studies import Site, Study
from infra.db.uow import SqlUnitOfWorkFactory
from tests.factories import admin, at_site, caller, make_study


async def _site(uow: SqlUnitOfWorkFactory) -> tuple[Study, Site]:
    study = await studies.create_study(
        uow=uow(), ctx=caller(admin()), code=make_study().code, title="T"
    )
    site = await studies.create_site(
        uow=uow(),
        ctx=caller(admin()),
        study_id=study.id,
        code="BER",
        name="Berlin",
        country="DE",
        timezone="Europe/Berlin",
    )
    return study, site


async def test_study_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    study = await studies.create_study(
        uow=uow(), ctx=caller(admin()), code="rt-1", title="Round trip"
    )
    loaded = await studies.get_study(uow=uow(), ctx=caller(admin()), study_id=study.id)
    assert loaded == study
    assert loaded.created_at.tzinfo is not None


async def test_unique_codes_become_domain_errors(uow: SqlUnitOfWorkFactory) -> None:
    await studies.create_study(uow=uow(), ctx=caller(admin()), code="dup-1", title="A")
    with pytest.raises(DomainError) as raised:
        await studies.create_study(uow=uow(), ctx=caller(admin()), code="DUP-1", title="B")
    assert (raised.value.code, raised.value.field) == (ErrorCode.ALREADY_EXISTS, "code")
    async with uow() as unit:
        assert len(await unit.studies.list(ReadFilter(everything=True))) >= 1


async def test_participants_register_page_and_change(uow: SqlUnitOfWorkFactory) -> None:
    _, site = await _site(uow)
    ctx = caller(at_site(Role.COORDINATOR, site))
    made = [
        await participants.register_participant(
            uow=uow(), ctx=ctx, site_id=site.id, screening_number=f"SCR-{n:03}"
        )
        for n in range(5)
    ]
    first = await participants.page_participants(
        uow=uow(), ctx=ctx, site_ids=[site.id], status=None, request=PageRequest(first=3)
    )
    assert [p.id for p in first.items] == [p.id for p in made[:3]]
    assert first.has_next_page
    rest = await participants.page_participants(
        uow=uow(),
        ctx=ctx,
        site_ids=[site.id],
        status=None,
        request=PageRequest(first=3, after=(str(first.items[-1].id),)),
    )
    assert [p.id for p in rest.items] == [p.id for p in made[3:]]
    assert not rest.has_next_page

    changed = await participants.change_status(
        uow=uow(),
        ctx=ctx,
        participant_id=made[0].id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Withdrew consent",
        expected_version=1,
    )
    assert changed.version == 2
    withdrawn = await participants.page_participants(
        uow=uow(),
        ctx=ctx,
        site_ids=[site.id],
        status=ParticipantStatus.WITHDRAWN,
        request=PageRequest(),
    )
    assert [p.id for p in withdrawn.items] == [made[0].id]
    with pytest.raises(DomainError) as raised:
        await participants.change_status(
            uow=uow(),
            ctx=ctx,
            participant_id=made[0].id,
            status=ParticipantStatus.COMPLETED,
            reason="x",
            expected_version=1,
        )
    assert raised.value.code is ErrorCode.STALE_VERSION


async def test_duplicate_screening_number_is_refused(uow: SqlUnitOfWorkFactory) -> None:
    _, site = await _site(uow)
    ctx = caller(admin())
    await participants.register_participant(
        uow=uow(), ctx=ctx, site_id=site.id, screening_number="X1"
    )
    with pytest.raises(DomainError) as raised:
        await participants.register_participant(
            uow=uow(), ctx=ctx, site_id=site.id, screening_number="X1"
        )
    assert raised.value.field == "screening_number"


async def test_failed_use_case_leaves_nothing_behind(uow: SqlUnitOfWorkFactory) -> None:
    _, site = await _site(uow)
    async with uow() as unit:
        before = (await unit.session.execute(text("SELECT count(*) FROM audit_events"))).scalar()
    with pytest.raises(DomainError):
        await participants.register_participant(
            uow=uow(), ctx=caller(admin()), site_id=site.id, screening_number="  "
        )
    async with uow() as unit:
        after = (await unit.session.execute(text("SELECT count(*) FROM audit_events"))).scalar()
    assert after == before
