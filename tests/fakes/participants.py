"""In-memory fakes of the participants ports, for fast unit tests of the rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain.access import ReadFilter
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.ids import (
    ParticipantId,
    SiteId,
)
from domain.pagination import Page, PageRequest
from domain.participants import Participant, ParticipantStatus
from domain.schedules import ZoneChange
from tests.fakes.visibility import _visible
from tests.paging import keyset_window


class FakeParticipants:
    def __init__(self) -> None:
        self.rows: dict[ParticipantId, Participant] = {}
        self.taken_subject_ids: set[str] = set()
        self.zone_history: dict[ParticipantId, list[ZoneChange]] = {}

    async def try_add(self, participant: Participant) -> bool:
        if participant.subject_id in self.taken_subject_ids:
            return False
        if any(
            (p.study_id, p.screening_number) == (participant.study_id, participant.screening_number)
            for p in self.rows.values()
        ):
            raise AlreadyExists("A participant with this screening number")
        self.taken_subject_ids.add(participant.subject_id)
        self.rows[participant.id] = participant
        self.zone_history[participant.id] = [
            ZoneChange(participant.registered_at, participant.timezone)
        ]
        return True

    async def get(self, participant_id: ParticipantId) -> Participant | None:
        return self.rows.get(participant_id)

    async def lock(self, participant_id: ParticipantId) -> Participant | None:
        return self.rows.get(participant_id)

    async def zones(self, participant_id: ParticipantId) -> Sequence[ZoneChange]:
        return self.zone_history.get(participant_id, [])

    async def add_zone(self, participant_id: ParticipantId, change: ZoneChange) -> None:
        self.zone_history.setdefault(participant_id, []).append(change)

    async def get_many(self, ids: Sequence[ParticipantId]) -> Sequence[Participant]:
        return [self.rows[i] for i in ids if i in self.rows]

    async def update(self, participant: Participant) -> None:
        current = self.rows[participant.id]
        if current.version != participant.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[participant.id] = participant

    async def page(
        self,
        *,
        site_ids: Sequence[SiteId],
        visible: ReadFilter,
        status: ParticipantStatus | None,
        request: PageRequest,
    ) -> Page[Participant]:
        rows = (
            p
            for p in self.rows.values()
            if p.site_id in site_ids
            and _visible(visible, p.study_id, p.site_id, p.id)
            and (status is None or p.status is status)
        )
        return keyset_window(rows, lambda p: (p.id,), [uuid.UUID], request)
