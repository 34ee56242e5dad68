"""Data change requests: the only way site staff change submitted data, always with a reason."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from domain.ids import ParticipantId, new_id


@dataclass(frozen=True)
class DataChangeRequest:
    ENTITY: ClassVar[str] = "DataChangeRequest"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    participant_id: ParticipantId
    record_type: str
    record_id: uuid.UUID
    items: tuple[str, ...]  # what was changed (values are in the audit trail)
    reason: str | None  # None: withheld from this reader, or erased with the participant's key
    requested_by: uuid.UUID
    applied_at: datetime

    @classmethod
    def applied(
        cls,
        *,
        participant_id: ParticipantId,
        record_type: str,
        record_id: uuid.UUID,
        items: tuple[str, ...],
        reason: str,
        by: uuid.UUID,
        now: datetime,
    ) -> DataChangeRequest:
        return cls(new_id(), participant_id, record_type, record_id, items, reason, by, now)

    def withheld(self) -> DataChangeRequest:
        return dataclasses.replace(self, reason=None)
