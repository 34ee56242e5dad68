"""Study and site rules and use cases, on in-memory fakes."""

from __future__ import annotations

import pytest

from domain.actors import ANONYMOUS, Role
from domain.errors import DomainError, ErrorCode
from domain.services import studies as cases
from domain.studies import Site, Study
from tests.factories import NOW, admin, at_site, caller, make_site, make_study, staff
from tests.fakes import FakeUnitOfWork


@pytest.mark.parametrize("code", ["", "has space", "-lead", "x" * 33, "ÄÖ"])
def test_bad_codes_are_refused(code: str) -> None:
    with pytest.raises(DomainError) as raised:
        Study.new(code=code, title="t", now=NOW)
    assert raised.value.field == "code"


def test_codes_are_upper_cased_and_titles_tidied() -> None:
    study = Study.new(code=" hx-01 ", title="  Heart   failure ", now=NOW)
    assert (study.code, study.title) == ("HX-01", "Heart failure")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("country", {"country": "Germany"}), ("timezone", {"timezone": "Mars/Olympus"})],
)
def test_sites_need_real_countries_and_zones(field: str, kwargs: dict[str, str]) -> None:
    values = {"code": "B1", "name": "Berlin", "country": "DE", "timezone": "Europe/Berlin"} | kwargs
    with pytest.raises(DomainError) as raised:
        Site.new(study_id=make_study().id, now=NOW, **values)
    assert raised.value.field == field


async def test_only_admins_create_studies() -> None:
    uow = FakeUnitOfWork()
    study = await cases.create_study(uow=uow, ctx=caller(admin()), code="s1", title="One")
    assert study.code == "S1"
    assert uow.events[0].entity_type == "Study"
    for actor in (staff(Role.DATA_MANAGER, study.id), ANONYMOUS):
        with pytest.raises(DomainError):
            await cases.create_study(uow=uow, ctx=caller(actor), code="s2", title="Two")
    assert len(uow.studies.rows) == 1


async def test_duplicate_study_codes_are_refused() -> None:
    uow = FakeUnitOfWork()
    await cases.create_study(uow=uow, ctx=caller(admin()), code="dup", title="One")
    with pytest.raises(DomainError) as raised:
        await cases.create_study(uow=uow, ctx=caller(admin()), code="DUP", title="Two")
    assert raised.value.code is ErrorCode.ALREADY_EXISTS


async def test_site_needs_an_existing_study() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(DomainError) as raised:
        await cases.create_site(
            uow=uow,
            ctx=caller(admin()),
            study_id=make_study().id,
            code="B1",
            name="Berlin",
            country="DE",
            timezone="Europe/Berlin",
        )
    assert raised.value.code is ErrorCode.NOT_FOUND


async def test_staff_see_only_their_studies_and_sites() -> None:
    uow = FakeUnitOfWork()
    mine, other = make_study(), make_study()
    site, foreign = make_site(mine), make_site(other)
    for s in (mine, other):
        await uow.studies.add(s)
    for t in (site, foreign):
        await uow.sites.add(t)
    ctx = caller(at_site(Role.COORDINATOR, site))
    assert [s.id for s in await cases.list_studies(uow=uow, ctx=ctx)] == [mine.id]
    sites = await cases.list_sites(uow=uow, ctx=ctx, study_ids=[mine.id, other.id])
    assert [s.id for s in sites] == [site.id]
    assert await cases.list_studies(uow=uow, ctx=caller(ANONYMOUS)) == []
