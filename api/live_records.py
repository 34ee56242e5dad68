"""The record of a live event, loaded once per kind of viewer instead of once per subscriber.

A change fanned out to two hundred coordinators of one site would otherwise load the same
record two hundred times. Subscribers who hold the same grants (and, for anyone but staff,
are the same person) see a record the same way, so the first of them loads it through the
authorized read path and the others get that result; subscribers with other grants load
their own. Every subscriber is still checked on its own before anything is loaded for it.

Entries are keyed by the notice object the change feed hands to every stream of the process
(one object per NOTIFY) and hold it, so a key is never reused for another change; the oldest
entries go first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

from domain import live
from domain.actors import Actor, ActorKind

SIZE = 4096  # (event, viewer) pairs kept: far more than one burst of events fans out to


class Moved:
    """What a load answers when its subscriber's grants changed before it ran: it was not
    loaded as the viewer it was asked for, so nobody shares it."""


MOVED = Moved()


def viewer(actor: Actor) -> Hashable:
    """What decides how a record reads: the kind of caller, their grants, and who they are
    unless they are staff (whose reads depend on grants alone)."""
    person = None if actor.kind is ActorKind.STAFF else actor.id
    return (actor.kind, person, frozenset(actor.grants))


class Records:
    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._found: OrderedDict[tuple[int, Hashable], tuple[live.Notice, asyncio.Task[object]]]
        self._found = OrderedDict()

    async def load(
        self,
        notice: live.Notice,
        actor: Actor,
        load: Callable[[Hashable | None], Awaitable[object]],
    ) -> object:
        """The record for this viewer: loaded by the first subscriber to ask, shared with
        those who ask while or after it loads. `load(viewer)` loads as the calling
        subscriber, and answers MOVED if that subscriber is no longer that viewer;
        `load(None)` loads as the calling subscriber is now, shared with nobody."""
        seen = viewer(actor)
        key = (id(notice), seen)
        entry = self._found.get(key)
        if entry is None or entry[0] is not notice:
            entry = (notice, asyncio.ensure_future(load(seen)))
            self._found[key] = entry
            while len(self._found) > self._size:
                self._found.popitem(last=False)
        found = await asyncio.shield(entry[1])
        if found is MOVED:
            if self._found.get(key) is entry:
                del self._found[key]
            return await load(None)  # as this subscriber, for this subscriber alone
        return found

    def __len__(self) -> int:
        return len(self._found)
