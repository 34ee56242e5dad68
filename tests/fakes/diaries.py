"""In-memory fakes of the diaries ports, for fast unit tests of the rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from domain.corrections import DataChangeRequest
from domain.diaries import DiaryEntry, DiarySchedule, EntryStatus
from domain.ids import (
    ParticipantId,
    StudyId,
)
from domain.pagination import Page, PageRequest
from domain.questionnaires import PublishedQuestionnaire
from tests.paging import keyset_window


class FakeQuestionnaires:
    def __init__(self) -> None:
        self.rows: list[PublishedQuestionnaire] = []

    async def add(self, published: PublishedQuestionnaire) -> None:
        self.rows.append(published)

    async def all(self, study_id: StudyId) -> Sequence[PublishedQuestionnaire]:
        return [q for q in self.rows if q.study_id == study_id]


class FakeDiaries:
    def __init__(self) -> None:
        self.schedule_rows: dict[uuid.UUID, DiarySchedule] = {}
        self.rows: dict[uuid.UUID, DiaryEntry] = {}
        self.requests: list[DataChangeRequest] = []

    async def add_schedule(self, schedule: DiarySchedule) -> None:
        self.schedule_rows[schedule.id] = schedule

    async def schedules(self, study_id: StudyId) -> Sequence[DiarySchedule]:
        return [s for s in self.schedule_rows.values() if s.study_id == study_id]

    async def get_many(self, entry_ids: Sequence[uuid.UUID]) -> Sequence[DiaryEntry]:
        return [self.rows[i] for i in entry_ids if i in self.rows]

    async def fingerprint(self, participant_id: ParticipantId, digest: str) -> str:
        return f"{participant_id}:{digest}"

    async def get(self, entry_id: uuid.UUID) -> DiaryEntry | None:
        return self.rows.get(entry_id)

    async def try_add(self, entry: DiaryEntry) -> bool:
        taken = entry.status is EntryStatus.ACCEPTED and any(
            e.status is EntryStatus.ACCEPTED
            and (e.participant_id, e.schedule_id, e.occurrence_key)
            == (entry.participant_id, entry.schedule_id, entry.occurrence_key)
            for e in self.rows.values()
        )
        if entry.id in self.rows or taken:
            return False
        self.rows[entry.id] = entry
        return True

    async def update(self, entry: DiaryEntry) -> None:
        self.rows[entry.id] = entry

    async def answered(self, participant_ids: Sequence[ParticipantId]) -> Sequence[DiaryEntry]:
        return [
            e
            for e in self.rows.values()
            if e.participant_id in participant_ids and e.status is EntryStatus.ACCEPTED
        ]

    async def answered_keys(
        self, participant_id: ParticipantId, keys: Sequence[str]
    ) -> set[tuple[uuid.UUID, str]]:
        return {
            (e.schedule_id, e.occurrence_key)
            for e in await self.answered([participant_id])
            if e.occurrence_key in keys
        }

    async def page(self, participant_id: ParticipantId, request: PageRequest) -> Page[DiaryEntry]:
        rows = (e for e in self.rows.values() if e.participant_id == participant_id)
        return keyset_window(
            rows, lambda e: (e.due_at, e.id), [datetime.fromisoformat, uuid.UUID], request
        )

    async def add_change_request(self, request: DataChangeRequest) -> None:
        self.requests.append(request)

    async def change_requests(self, record_id: uuid.UUID) -> Sequence[DataChangeRequest]:
        return [r for r in self.requests if r.record_id == record_id]
