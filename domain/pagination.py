"""Keyset pagination: pages are read after a position, never by offset, so they stay fast."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.errors import DomainError, ErrorCode

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class PageRequest:
    """At most `first` items after the (sort key, id) position `after`."""

    first: int = DEFAULT_PAGE_SIZE
    after: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.first < 0 or self.first > MAX_PAGE_SIZE:
            raise DomainError(
                ErrorCode.PAGE_SIZE_EXCEEDED,
                f"'first' must be between 0 and {MAX_PAGE_SIZE}.",
                field="first",
            )


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    has_next_page: bool

    @classmethod
    def from_overfetch(cls, rows: Sequence[T], request: PageRequest) -> Page[T]:
        """Repositories fetch one row more than asked to learn whether another page exists."""
        return cls(items=rows[: request.first], has_next_page=len(rows) > request.first)
