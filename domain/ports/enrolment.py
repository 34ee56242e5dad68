"""Ports for enrolment, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from domain.enrolment import AppInstallation, EnrolmentCode
from domain.ids import (
    ParticipantId,
)


class EnrolmentRepository(Protocol):
    async def add_code(self, code: EnrolmentCode, digest: bytes) -> None: ...

    async def void_codes(self, participant_id: ParticipantId, now: datetime) -> None:
        """Unused codes of the participant stop working (a new one was issued)."""
        ...

    async def find_code(self, digest: bytes) -> EnrolmentCode | None: ...

    async def use_code(self, code_id: uuid.UUID, now: datetime) -> bool:
        """Mark a code used; False if it already was (atomic: one caller wins)."""
        ...

    async def add_installation(self, installation: AppInstallation) -> None: ...

    async def unpair_all(self, participant_id: ParticipantId, now: datetime) -> int:
        """Unpair every installation of the participant; returns how many."""
        ...
