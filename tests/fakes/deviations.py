"""In-memory fake of the protocol deviations port."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain.deviations import ProtocolDeviation
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId


class FakeDeviations:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, ProtocolDeviation] = {}

    async def add(self, deviation: ProtocolDeviation) -> None:
        self.rows[deviation.id] = deviation

    async def raise_once(self, deviation: ProtocolDeviation) -> bool:
        key = (deviation.trigger, deviation.category)
        if any((d.trigger, d.category) == key for d in self.rows.values()):
            return False
        self.rows[deviation.id] = deviation
        return True

    async def get(self, deviation_id: uuid.UUID) -> ProtocolDeviation | None:
        return self.rows.get(deviation_id)

    async def update(self, deviation: ProtocolDeviation) -> None:
        if self.rows[deviation.id].version != deviation.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[deviation.id] = deviation

    async def of_participant(self, participant_id: ParticipantId) -> Sequence[ProtocolDeviation]:
        found = (d for d in self.rows.values() if d.participant_id == participant_id)
        return sorted(found, key=lambda d: (d.detected_at, d.id))
