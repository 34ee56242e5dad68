"""An in-memory fake of the occurrence store, for fast unit tests of the rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from domain.ids import ParticipantId, StudyId
from domain.occurrences import DEFAULT_HORIZON, Planned, StoredPlan
from tests.fakes.participants import FakeParticipants

_Key = tuple[ParticipantId, str]


class FakeOccurrences:
    def __init__(self, participants: FakeParticipants, horizon: timedelta = DEFAULT_HORIZON):
        self._participants = participants
        self.horizon = horizon
        # (participant, basis) -> (until, {(schedule_id, key): planned})
        self.rows: dict[_Key, tuple[datetime, dict[tuple[object, str], Planned]]] = {}

    async def read(
        self, participant_id: ParticipantId, basis: str, start: datetime, end: datetime
    ) -> StoredPlan | None:
        found = self.rows.get((participant_id, basis))
        if found is None:
            return None
        until, planned = found
        return StoredPlan(
            until, [p for p in planned.values() if start <= p.occurrence.due_at < end]
        )

    async def store(
        self,
        participant_id: ParticipantId,
        basis: str,
        planned: Sequence[Planned],
        until: datetime,
    ) -> None:
        before, rows = self.rows.get((participant_id, basis), (until, {}))
        rows = dict(rows)
        for p in planned:
            rows.setdefault((p.schedule_id, p.occurrence.key), p)
        self.rows[(participant_id, basis)] = (max(before, until), rows)

    async def forget_others(self, participant_id: ParticipantId, basis: str) -> None:
        self.rows = {k: v for k, v in self.rows.items() if k[0] != participant_id or k[1] == basis}

    async def has_plans(self, participant_id: ParticipantId) -> bool:
        return any(k[0] == participant_id for k in self.rows)

    async def planned_in(self, study_id: StudyId) -> Sequence[ParticipantId]:
        people = self._participants.rows
        return sorted(
            {k[0] for k in self.rows if k[0] in people and people[k[0]].study_id == study_id}
        )
