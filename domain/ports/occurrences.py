"""Ports for planned diary occurrences, as Protocols that infra implements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from domain.ids import ParticipantId, StudyId
from domain.occurrences import Planned, StoredPlan


class OccurrenceStore(Protocol):
    @property
    def horizon(self) -> timedelta:
        """How far ahead of now a plan reaches when it is made or extended."""
        ...

    async def read(
        self, participant_id: ParticipantId, basis: str, start: datetime, end: datetime
    ) -> StoredPlan | None:
        """The plan with this basis and its occurrences due in [start, end), read at one
        moment (a plan and its occurrences are written together); None if there is none."""
        ...

    async def store(
        self,
        participant_id: ParticipantId,
        basis: str,
        planned: Sequence[Planned],
        until: datetime,
    ) -> None:
        """Add occurrences to the plan (those already stored are kept as they are, so
        concurrent planners never duplicate one) and let it reach at least `until`."""
        ...

    async def forget_others(self, participant_id: ParticipantId, basis: str) -> None:
        """Delete the participant's plans under any other basis."""
        ...

    async def has_plans(self, participant_id: ParticipantId) -> bool: ...

    async def planned_in(self, study_id: StudyId) -> Sequence[ParticipantId]:
        """The participants of the study that have a stored plan."""
        ...
