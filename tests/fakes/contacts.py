"""In-memory fakes of the contacts ports, for fast unit tests of the rules."""

from __future__ import annotations

from collections.abc import Sequence

from domain.contacts import ContactDetails
from domain.errors import DomainError, ErrorCode
from domain.ids import (
    ParticipantId,
    StudyId,
)


class FakeContacts:
    def __init__(self) -> None:
        self.rows: dict[ParticipantId, ContactDetails] = {}
        self.studies: dict[ParticipantId, StudyId] = {}

    async def get(self, participant_id: ParticipantId) -> ContactDetails | None:
        return self.rows.get(participant_id)

    async def save(self, contact: ContactDetails, study_id: StudyId) -> None:
        current = self.rows.get(contact.id)
        if (current.version if current else 0) != contact.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[contact.id] = contact
        self.studies[contact.id] = study_id

    async def find(
        self, study_id: StudyId, *, email: str | None, phone: str | None
    ) -> Sequence[ParticipantId]:
        return [
            pid
            for pid, c in self.rows.items()
            if self.studies[pid] == study_id
            and ((email and c.email == email.strip().casefold()) or (phone and c.phone == phone))
        ]

    async def erase(self, participant_id: ParticipantId) -> None:
        self.rows.pop(participant_id, None)
