"""Finding any record by its type and id, with where it sits (for queries and signatures)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from domain.ids import ParticipantId, VisitId
from domain.records import Located


class SqlRecordLocator:
    """Delegates to the repositories: each record type knows how to find its participant."""

    def __init__(self, uow: Any) -> None:
        self._uow = uow
        self._finders: dict[str, Callable[[uuid.UUID], Awaitable[Any]]] = {
            "Participant": lambda i: uow.participants.get(ParticipantId(i)),
            "Visit": lambda i: uow.visits.get(VisitId(i)),
            "Consent": uow.consents.consent,
            "DiaryEntry": uow.diaries.get,
            "Reading": uow.readings.get,
            "AdverseEvent": uow.adverse_events.get,
            "ConcomitantMedication": uow.medications.get,
            "ProtocolDeviation": uow.deviations.get,
        }

    def register(self, record_type: str, finder: Callable[[uuid.UUID], Awaitable[Any]]) -> None:
        self._finders[record_type] = finder

    async def locate(self, record_type: str, record_id: uuid.UUID) -> Located | None:
        finder = self._finders.get(record_type)
        record = await finder(record_id) if finder else None
        if record is None:
            return None
        participant = (
            record
            if record_type == "Participant"
            else await self._uow.participants.get(record.participant_id)
        )
        if participant is None:
            return None
        return Located(record, participant.study_id, participant.site_id, participant.id)
