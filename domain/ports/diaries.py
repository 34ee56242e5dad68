"""Ports for diaries, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from domain.corrections import DataChangeRequest
from domain.diaries import DiaryEntry, DiarySchedule
from domain.ids import (
    ParticipantId,
    StudyId,
)
from domain.pagination import Page, PageRequest
from domain.questionnaires import PublishedQuestionnaire


class QuestionnaireRepository(Protocol):
    async def add(self, published: PublishedQuestionnaire) -> None: ...

    async def all(self, study_id: StudyId) -> Sequence[PublishedQuestionnaire]:
        """Every version of every questionnaire of the study, oldest first."""
        ...


class DiaryRepository(Protocol):
    async def add_schedule(self, schedule: DiarySchedule) -> None: ...
    async def schedules(self, study_id: StudyId) -> Sequence[DiarySchedule]: ...
    async def get(self, entry_id: uuid.UUID) -> DiaryEntry | None: ...
    async def get_many(self, entry_ids: Sequence[uuid.UUID]) -> Sequence[DiaryEntry]: ...

    async def fingerprint(self, participant_id: ParticipantId, digest: str) -> str:
        """The submission digest keyed with the participant's data key: a stored fingerprint
        cannot be used to guess free text, and erasure makes it meaningless."""
        ...

    async def try_add(self, entry: DiaryEntry) -> bool:
        """Insert unless the id exists, or an accepted entry answers the occurrence already."""
        ...

    async def update(self, entry: DiaryEntry) -> None: ...

    async def answered(self, participant_ids: Sequence[ParticipantId]) -> Sequence[DiaryEntry]:
        """The accepted entries of these participants."""
        ...

    async def answered_keys(
        self, participant_id: ParticipantId, keys: Sequence[str]
    ) -> set[tuple[uuid.UUID, str]]:
        """(schedule id, occurrence key) of the participant's accepted entries among `keys`."""
        ...

    async def page(
        self, participant_id: ParticipantId, request: PageRequest
    ) -> Page[DiaryEntry]: ...
    async def add_change_request(self, request: DataChangeRequest) -> None: ...

    async def change_requests(self, record_id: uuid.UUID) -> Sequence[DataChangeRequest]:
        """The record's data change requests, oldest first."""
        ...
