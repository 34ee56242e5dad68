"""Ports for participants, as Protocols that infra implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.access import ReadFilter
from domain.ids import (
    ParticipantId,
    SiteId,
)
from domain.pagination import Page, PageRequest
from domain.participants import Participant, ParticipantStatus
from domain.schedules import ZoneChange


class ParticipantRepository(Protocol):
    async def try_add(self, participant: Participant) -> bool:
        """Insert; False when the random subject id is already taken in the study."""
        ...

    async def get(self, participant_id: ParticipantId) -> Participant | None: ...

    async def lock(self, participant_id: ParticipantId) -> Participant | None:
        """Read and lock the participant until commit: erasure and edits never interleave."""
        ...

    async def get_many(self, ids: Sequence[ParticipantId]) -> Sequence[Participant]: ...
    async def update(self, participant: Participant) -> None:
        """Store a new version; raises STALE_VERSION if someone else changed it first."""
        ...

    async def zones(self, participant_id: ParticipantId) -> Sequence[ZoneChange]:
        """The participant's time zone history, oldest first."""
        ...

    async def add_zone(self, participant_id: ParticipantId, change: ZoneChange) -> None: ...

    async def page(
        self,
        *,
        site_ids: Sequence[SiteId],
        visible: ReadFilter,
        status: ParticipantStatus | None,
        request: PageRequest,
    ) -> Page[Participant]: ...
