"""Keyset pages over in-memory rows, for the fakes: the same contract as infra/db/keyset.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from domain.pagination import Page, PageRequest

T = TypeVar("T")


def keyset_window(
    rows: Iterable[T],
    key: Callable[[T], tuple[Any, ...]],
    parse: Sequence[Callable[[str], Any]],
    request: PageRequest,
    *,
    descending: bool = False,
) -> Page[T]:
    """The page `request` asks for, of `rows` listed by `key` (ascending or descending)."""

    def position(cursor: tuple[str, ...]) -> tuple[Any, ...]:
        return tuple(p(part) for p, part in zip(parse, cursor, strict=True))

    def ahead(row: T, cursor: tuple[str, ...]) -> bool:
        mine, theirs = key(row), position(cursor)
        return mine < theirs if descending else mine > theirs

    def behind(row: T, cursor: tuple[str, ...]) -> bool:
        mine, theirs = key(row), position(cursor)
        return mine > theirs if descending else mine < theirs

    listed = sorted(rows, key=key, reverse=descending)
    after, before, anchor = request.after, request.before, request.anchor
    inside = [
        r
        for r in listed
        if (after is None or ahead(r, after)) and (before is None or behind(r, before))
    ]
    reading = inside[::-1] if request.backward else inside
    if anchor is None:
        beyond = False
    elif request.backward:
        beyond = any(not behind(r, anchor) for r in listed)
    else:
        beyond = any(not ahead(r, anchor) for r in listed)
    return Page.from_overfetch(reading[: request.size + 1], request, beyond_anchor=beyond)
