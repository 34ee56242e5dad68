"""Relay conventions: opaque global ids, the Node interface, cursor connections."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

import strawberry

from domain.errors import DomainError, ErrorCode
from domain.pagination import Page, PageRequest

T = TypeVar("T")
E = TypeVar("E")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode()).decode()


def to_global_id(type_name: str, value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(_b64(f"{type_name}:{value}"))


def from_global_id(global_id: str, expected: str | None = None) -> tuple[str, uuid.UUID]:
    """(type name, uuid) of a global id; INVALID_ID for anything malformed or of another type."""
    try:
        type_name, _, raw = _unb64(global_id).partition(":")
        value = uuid.UUID(raw)
    except (ValueError, UnicodeDecodeError, binascii.Error) as error:
        raise DomainError(ErrorCode.INVALID_ID, "Malformed id.", field="id") from error
    if expected is not None and type_name != expected:
        raise DomainError(ErrorCode.INVALID_ID, f"Expected a {expected} id.", field="id")
    return type_name, value


Parse = Callable[[str], object]


def page_request(
    first: int | None,
    after: str | None,
    kind: str,
    *parsers: Parse,
    last: int | None = None,
    before: str | None = None,
) -> PageRequest:
    """A Relay page request: `first` after a cursor, or `last` before one (both cursors make
    a range). Cursors must be of this connection's kind and their parts must parse."""
    return PageRequest(
        first=first,
        after=_decode_cursor(after, kind, parsers, "after") if after else None,
        last=last,
        before=_decode_cursor(before, kind, parsers, "before") if before else None,
    )


def _decode_cursor(
    cursor: str, kind: str, parsers: Sequence[Parse], argument: str
) -> tuple[str, ...]:
    try:
        version, found, *parts = _unb64(cursor).split("\x1f")
        if (version, found) != ("c1", kind) or len(parts) != len(parsers):
            raise ValueError(cursor)
        for parse, part in zip(parsers, parts, strict=True):
            parse(part)
    except (ValueError, UnicodeDecodeError, binascii.Error) as error:
        raise DomainError(ErrorCode.INVALID_CURSOR, "Malformed cursor.", field=argument) from error
    return tuple(parts)


def instant(text: str) -> datetime:
    """A cursor's point in time: ISO 8601 with its offset (a time without one is refused)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(text)
    return value


def encode_cursor(kind: str, *position: str) -> str:
    return _b64("\x1f".join(("c1", kind, *position)))


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type(description="Where a page starts and ends, Relay style.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More items follow: page on with first/after endCursor."
    )
    has_previous_page: bool = strawberry.field(
        description="Items come before: page back with last/before startCursor."
    )
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @classmethod
    def of(
        cls,
        page: Page[E],
        expose: Callable[[E], T],
        position: Callable[[E], Sequence[str]],
        kind: str,
    ) -> Connection[T]:
        edges = [
            Edge(cursor=encode_cursor(kind, *position(item)), node=expose(item))
            for item in page.items
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
