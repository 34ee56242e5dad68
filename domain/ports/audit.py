"""Ports for audit, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from domain.access import ReadFilter
from domain.audit import JsonValue
from domain.pagination import Page, PageRequest
from domain.trail import TrailEvent, TrailQuery


class AuditTrail(Protocol):
    async def page(
        self, query: TrailQuery, visible: ReadFilter, request: PageRequest
    ) -> Page[TrailEvent]:
        """Events matching the query and the reader's visibility; personal values withheld."""
        ...

    async def reveal(
        self, events: Sequence[TrailEvent], allowed: Callable[[TrailEvent, uuid.UUID], bool]
    ) -> Sequence[TrailEvent]:
        """Open the personal values of events whose (event, data owner) `allowed` accepts."""
        ...

    async def redact(
        self, entity_type: str, entity_id: uuid.UUID, field: str, value: JsonValue
    ) -> Sequence[str]:
        """Clear logged copies of `value` in `field` of the entity; their references."""
        ...


class DataKeys(Protocol):
    def rotate_kek(self) -> tuple[str, str]:
        """Make a new key-encryption key current; returns (old id, new id)."""
        ...

    async def rewrap_all(self) -> int:
        """Re-wrap every live data key under the current key-encryption key."""
        ...

    async def destroy(self, owner_id: uuid.UUID) -> bool:
        """Crypto-shred a data subject's key; False if there was none left."""
        ...
