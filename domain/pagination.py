"""Keyset pagination: pages are read after a position, never by offset, so they stay fast.

A page is the `first` items after a position, or the `last` items before one (Relay's
backward paging); both bounds together make a range. Positions are the sort key of an item
as strings (e.g. `("2026-04-01T07:00:00+00:00", "<uuid>")`); repositories parse them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.errors import DomainError, ErrorCode

T = TypeVar("T")
U = TypeVar("U")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

Position = tuple[str, ...]


@dataclass(frozen=True)
class PageRequest:
    """At most `first` items after `after`, or at most `last` items before `before`."""

    first: int | None = None
    after: Position | None = None
    last: int | None = None
    before: Position | None = None

    def __post_init__(self) -> None:
        if self.first is not None and self.last is not None:
            raise DomainError(
                ErrorCode.PAGE_ARGUMENTS_CONFLICT,
                "Give 'first' (forward) or 'last' (backward), not both.",
                field="last",
            )
        for name, value in (("first", self.first), ("last", self.last)):
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                raise DomainError(
                    ErrorCode.PAGE_SIZE_EXCEEDED,
                    f"'{name}' must be between 0 and {MAX_PAGE_SIZE}.",
                    field=name,
                )

    @property
    def backward(self) -> bool:
        """Counting from the end (`last`): the items nearest `before`, or the very last ones."""
        return self.last is not None

    @property
    def size(self) -> int:
        if self.last is not None:
            return self.last
        return DEFAULT_PAGE_SIZE if self.first is None else self.first

    @property
    def anchor(self) -> Position | None:
        """The cursor the page counts from: `before` when paging backward, else `after`."""
        return self.before if self.backward else self.after


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    has_next_page: bool
    has_previous_page: bool = False

    @classmethod
    def from_overfetch(
        cls, rows: Sequence[T], request: PageRequest, *, beyond_anchor: bool = False
    ) -> Page[T]:
        """A page from rows read one more than asked, in reading order: forward from `after`,
        or nearest-first back from `before`. `beyond_anchor`: items lie on the other side of
        the cursor the page counts from (at or before `after`, at or after `before`)."""
        more = len(rows) > request.size
        kept = list(rows[: request.size])
        if request.backward:
            return cls(items=kept[::-1], has_next_page=beyond_anchor, has_previous_page=more)
        return cls(items=kept, has_next_page=more, has_previous_page=beyond_anchor)

    def with_items(self, items: Sequence[U]) -> Page[U]:
        """The same page over other items (e.g. rows turned into domain objects)."""
        return Page(items, self.has_next_page, self.has_previous_page)
