"""Ports for contacts, as Protocols that infra implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.contacts import ContactDetails
from domain.ids import (
    ParticipantId,
    StudyId,
)


class ContactRepository(Protocol):
    async def get(self, participant_id: ParticipantId) -> ContactDetails | None:
        """The stored details, or None if there are none (or they were erased)."""
        ...

    async def save(self, contact: ContactDetails, study_id: StudyId) -> None:
        """Insert version 1 or replace the previous version; STALE_VERSION if it moved on."""
        ...

    async def find(
        self, study_id: StudyId, *, email: str | None, phone: str | None
    ) -> Sequence[ParticipantId]:
        """Participants of a study with this e-mail or phone, by blind index."""
        ...

    async def erase(self, participant_id: ParticipantId) -> None:
        """Forget every sealed value and blind index of the participant's details, and every
        way to reach them (their app's push subscriptions too)."""
        ...
