"""Page requests both ways (Relay's first/after and last/before), on fakes."""

from __future__ import annotations

import pytest

from domain.errors import DomainError, ErrorCode
from domain.pagination import DEFAULT_PAGE_SIZE, Page, PageRequest
from domain.services import participants as cases
from domain.studies import Site
from tests.factories import admin, caller, make_participant, make_site
from tests.fakes import FakeUnitOfWork


def test_first_and_last_together_are_refused() -> None:
    with pytest.raises(DomainError) as raised:
        PageRequest(first=2, last=2)
    assert (raised.value.code, raised.value.field) == (ErrorCode.PAGE_ARGUMENTS_CONFLICT, "last")


@pytest.mark.parametrize(("first", "last", "field"), [(-1, None, "first"), (None, 101, "last")])
def test_sizes_stay_within_bounds(first: int | None, last: int | None, field: str) -> None:
    with pytest.raises(DomainError) as raised:
        PageRequest(first=first, last=last)
    assert (raised.value.code, raised.value.field) == (ErrorCode.PAGE_SIZE_EXCEEDED, field)


def test_a_backward_page_is_turned_round_and_knows_what_came_before() -> None:
    assert PageRequest().size == DEFAULT_PAGE_SIZE
    request = PageRequest(last=2, before=("9",))
    page = Page.from_overfetch([8, 7, 6], request, beyond_anchor=True)  # read nearest first
    assert (list(page.items), page.has_previous_page, page.has_next_page) == ([7, 8], True, True)
    forward = Page.from_overfetch([1, 2], PageRequest(first=2, after=("0",)), beyond_anchor=True)
    assert (forward.has_previous_page, forward.has_next_page) == (True, False)


async def _walk(uow: FakeUnitOfWork, site: Site, *, backward: bool) -> list[str]:
    seen: list[str] = []
    cursor: tuple[str, ...] | None = None
    while True:
        request = PageRequest(last=2, before=cursor) if backward else PageRequest(2, cursor)
        page = await cases.page_participants(
            uow=uow, ctx=caller(admin()), site_ids=[site.id], status=None, request=request
        )
        ids = [str(p.id) for p in page.items]
        seen = ids + seen if backward else seen + ids
        if not (page.has_previous_page if backward else page.has_next_page):
            return seen
        cursor = (ids[0],) if backward else (ids[-1],)


async def test_walking_back_from_the_end_lists_what_walking_forward_does() -> None:
    uow, site = FakeUnitOfWork(), make_site()
    for n in range(5):
        await uow.participants.try_add(make_participant(site, screening_number=str(n)))
    forward = await _walk(uow, site, backward=False)
    assert len(set(forward)) == 5
    assert await _walk(uow, site, backward=True) == forward
