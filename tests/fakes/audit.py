"""In-memory fakes of the audit ports, for fast unit tests of the rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from domain.access import ReadFilter
from domain.audit import JsonValue
from domain.pagination import Page, PageRequest
from domain.trail import TrailEvent, TrailQuery


class FakeTrail:
    """Records redactions; paging the trail is tested against PostgreSQL, not here."""

    def __init__(self) -> None:
        self.redactions: list[tuple[str, uuid.UUID, str, JsonValue]] = []

    async def page(
        self, query: TrailQuery, visible: ReadFilter, request: PageRequest
    ) -> Page[TrailEvent]:
        return Page(items=[], has_next_page=False)

    async def reveal(
        self, events: Sequence[TrailEvent], allowed: Callable[[TrailEvent, uuid.UUID], bool]
    ) -> Sequence[TrailEvent]:
        return events

    async def redact(
        self, entity_type: str, entity_id: uuid.UUID, field: str, value: JsonValue
    ) -> Sequence[str]:
        self.redactions.append((entity_type, entity_id, field, value))
        return [f"{uuid.uuid4()}/{field}/new"]


class FakeKeys:
    def __init__(self) -> None:
        self.kek = "kek-1"
        self.destroyed: set[uuid.UUID] = set()
        self.live = 0

    def rotate_kek(self) -> tuple[str, str]:
        old, self.kek = self.kek, f"kek-{int(self.kek.split('-')[1]) + 1}"
        return old, self.kek

    async def rewrap_all(self) -> int:
        return self.live

    async def destroy(self, owner_id: uuid.UUID) -> bool:
        fresh = owner_id not in self.destroyed
        self.destroyed.add(owner_id)
        return fresh
