"""Keyset pages in SQL, both ways: `first` after a position or `last` before one.

A list is ordered by a unique key (e.g. start time, then id). A forward page reads the rows
after `after` in that order; a backward page reads the rows before `before` in the opposite
order and turns them round. Either reads one row more than asked, to know whether the list
goes on, and, when it counts from a cursor, checks with one indexed row whether anything
lies on the cursor's other side. No offsets: every page costs the same however deep it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from domain.pagination import Page, PageRequest, Position

Parse = Callable[[str], Any]


async def keyset_page(
    session: AsyncSession,
    query: Select[Any],
    key: Sequence[ColumnElement[Any]],
    parse: Sequence[Parse],
    request: PageRequest,
    *,
    descending: bool = False,
) -> Page[Row[Any]]:
    """The page of `query` (filtered, unordered) that `request` asks for, ordered by `key`
    (ascending, or descending); cursor parts are parsed with `parse`, one per key column."""
    order = _Order(key, parse, descending)
    bounded = query
    if request.after is not None:
        bounded = bounded.where(order.ahead_of(request.after))
    if request.before is not None:
        bounded = bounded.where(order.behind(request.before))
    reading = bounded.order_by(*order.columns(reverse=request.backward))
    rows = (await session.execute(reading.limit(request.size + 1))).all()
    return Page.from_overfetch(
        rows, request, beyond_anchor=await _beyond(session, query, order, request)
    )


async def _beyond(
    session: AsyncSession, query: Select[Any], order: _Order, request: PageRequest
) -> bool:
    """Whether any row lies on the far side of the cursor the page counts from."""
    anchor = request.anchor
    if anchor is None:
        return False
    # The page lies behind `before` (backward) or ahead of `after` (forward): look past it.
    page_side = order.behind(anchor) if request.backward else order.ahead_of(anchor)
    found = await session.execute(query.where(~page_side).limit(1))
    return found.first() is not None


class _Order:
    """Comparisons in the list's order, whichever way the key's columns sort."""

    def __init__(
        self, key: Sequence[ColumnElement[Any]], parse: Sequence[Parse], descending: bool
    ) -> None:
        if len(key) != len(parse):
            raise ValueError("one parser per key column")
        self._key = list(key)
        self._parse = list(parse)
        self._descending = descending

    def columns(self, *, reverse: bool) -> list[ColumnElement[Any]]:
        down = self._descending != reverse
        return [c.desc() if down else c.asc() for c in self._key]

    def ahead_of(self, position: Position) -> ColumnElement[bool]:
        """Rows listed after the position."""
        return self._compare(position, later=True)

    def behind(self, position: Position) -> ColumnElement[bool]:
        """Rows listed before the position."""
        return self._compare(position, later=False)

    def _compare(self, position: Position, *, later: bool) -> ColumnElement[bool]:
        values = [parse(part) for parse, part in zip(self._parse, position, strict=True)]
        left: ColumnElement[Any] = self._key[0] if len(self._key) == 1 else tuple_(*self._key)
        right: Any = values[0] if len(values) == 1 else tuple_(*values)
        greater = later != self._descending
        comparison: ColumnElement[bool] = left > right if greater else left < right
        return comparison
