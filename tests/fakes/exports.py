"""In-memory fakes of the exports ports, for fast unit tests of the rules."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime

from domain.exports import ExportJob, ExportStatus
from domain.ids import (
    StudyId,
)


class FakeExports:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, ExportJob] = {}

    async def add(self, job: ExportJob) -> None:
        self.rows[job.id] = job

    async def get(self, job_id: uuid.UUID) -> ExportJob | None:
        return self.rows.get(job_id)

    async def lock(self, job_id: uuid.UUID) -> ExportJob | None:
        return self.rows.get(job_id)

    async def update(self, job: ExportJob) -> None:
        self.rows[job.id] = job

    async def beat(self, job_id: uuid.UUID, rows_done: int, rows_total: int, now: datetime) -> None:
        job = self.rows[job_id]
        self.rows[job_id] = dataclasses.replace(
            job, rows_done=rows_done, rows_total=rows_total, heartbeat_at=now
        )

    async def of_study(self, study_id: StudyId, limit: int) -> Sequence[ExportJob]:
        found = [j for j in self.rows.values() if j.study_id == study_id]
        return sorted(found, key=lambda j: j.requested_at, reverse=True)[:limit]

    async def unfinished(self, study_id: StudyId) -> int:
        return sum(1 for j in self.rows.values() if j.study_id == study_id and j.unfinished)

    async def expired(self, finished_before: datetime, limit: int) -> Sequence[ExportJob]:
        done = [
            j
            for j in self.rows.values()
            if j.status is ExportStatus.DONE
            and j.files_removed_at is None
            and j.finished_at is not None
            and j.finished_at < finished_before
        ]
        return sorted(done, key=lambda j: j.finished_at or finished_before)[:limit]
