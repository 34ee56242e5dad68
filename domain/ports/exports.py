"""Ports for exports, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.exports import ExportJob, ExportResult
from domain.ids import (
    StudyId,
)


class ExportRepository(Protocol):
    async def add(self, job: ExportJob) -> None: ...
    async def get(self, job_id: uuid.UUID) -> ExportJob | None: ...

    async def lock(self, job_id: uuid.UUID) -> ExportJob | None:
        """Read and lock the job until commit: the worker and a cancel never interleave."""
        ...

    async def update(self, job: ExportJob) -> None: ...

    async def beat(self, job_id: uuid.UUID, rows_done: int, rows_total: int, now: datetime) -> None:
        """Progress and heartbeat of a running job: operational, so not an audit event."""
        ...

    async def of_study(self, study_id: StudyId, limit: int) -> Sequence[ExportJob]:
        """The study's latest jobs, newest first."""
        ...

    async def unfinished(self, study_id: StudyId) -> int:
        """How many of the study's jobs are queued or running."""
        ...

    async def expired(self, finished_before: datetime, limit: int) -> Sequence[ExportJob]:
        """Done jobs that finished before then and still have their files, oldest first."""
        ...


class ExportProgress(Protocol):
    async def __call__(self, rows_done: int, rows_total: int) -> None: ...


class ExportEngine(Protocol):
    """Writes the study as of one event-log position into `directory`, with a signed manifest."""

    async def run(
        self, job: ExportJob, directory: str, progress: ExportProgress
    ) -> ExportResult: ...

    async def discard(self, directory: str) -> None:
        """Remove an export's directory and everything in it (none there: nothing to do)."""
        ...
