"""A live event's record is loaded once per kind of viewer, never shared across grants or
across changes, and never shared when the loading subscriber's grants moved meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Hashable

from api.live_records import MOVED, Records
from domain.actors import Actor, ActorKind, Grant, Role
from domain.ids import SiteId, StudyId
from infra.changefeed.notify import ChangeNotice

STUDY = StudyId(uuid.uuid4())
SITE_A, SITE_B = SiteId(uuid.uuid4()), SiteId(uuid.uuid4())


def _staff(*sites: SiteId) -> Actor:
    grants = tuple(Grant(Role.COORDINATOR, STUDY, s) for s in sites)
    return Actor(ActorKind.STAFF, uuid.uuid4(), grants)


def _notice() -> ChangeNotice:
    return ChangeNotice("data_query", uuid.UUID(int=7), "created", STUDY, SITE_A)


class _Loads:
    def __init__(self) -> None:
        self.count = 0
        self.gate = asyncio.Event()

    def __call__(self, answer: object) -> Callable[[Hashable | None], Awaitable[object]]:
        async def load(_seen: Hashable | None) -> object:
            self.count += 1
            await self.gate.wait()
            return answer

        return load


async def test_subscribers_with_the_same_grants_share_one_load() -> None:
    records, loads, notice = Records(), _Loads(), _notice()
    waiting = [
        asyncio.create_task(records.load(notice, _staff(SITE_A), loads(f"record {n}")))
        for n in range(50)
    ]
    await asyncio.sleep(0)
    loads.gate.set()
    found = await asyncio.gather(*waiting)
    assert loads.count == 1
    assert set(found) == {"record 0"}


async def test_other_grants_and_other_changes_load_their_own() -> None:
    records, loads = Records(), _Loads()
    loads.gate.set()
    first, second = _notice(), _notice()  # equal, but two changes: two NOTIFYs
    assert first == second
    assert await records.load(first, _staff(SITE_A), loads("a")) == "a"
    assert await records.load(first, _staff(SITE_A, SITE_B), loads("ab")) == "ab"
    assert await records.load(second, _staff(SITE_A), loads("again")) == "again"
    assert await records.load(first, _staff(SITE_A), loads("not loaded")) == "a"
    assert loads.count == 3


async def test_a_load_whose_subscriber_moved_is_not_shared() -> None:
    records, notice = Records(), _notice()
    asked: list[Hashable | None] = []

    async def moved(seen: Hashable | None) -> object:
        asked.append(seen)
        return MOVED if seen is not None else "as the first subscriber is now"

    async def own(seen: Hashable | None) -> object:
        asked.append(seen)
        return "as the second subscriber is"

    first = asyncio.create_task(records.load(notice, _staff(SITE_A), moved))
    second = asyncio.create_task(records.load(notice, _staff(SITE_A), own))
    assert await first == "as the first subscriber is now"
    assert await second == "as the second subscriber is"
    assert asked[1:] == [None, None]  # each loaded again for itself alone


async def test_the_oldest_entries_go_first() -> None:
    records, loads = Records(size=3), _Loads()
    loads.gate.set()
    for _ in range(5):
        await records.load(_notice(), _staff(SITE_A), loads("x"))
    assert len(records) == 3
