"""Repository for export jobs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import DomainError, ErrorCode
from domain.exports import ExportFile, ExportFormat, ExportJob, ExportStatus
from domain.ids import StudyId
from infra.db.tables import ExportJobRow

_TABLE = ExportJobRow.__table__  # type: ignore[attr-defined]


def _job(row: Any) -> ExportJob:
    return ExportJob(
        id=row.id,
        study_id=StudyId(row.study_id),
        format=ExportFormat(row.format),
        status=ExportStatus(row.status),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        heartbeat_at=row.heartbeat_at,
        rows_done=row.rows_done,
        rows_total=row.rows_total,
        finished_at=row.finished_at,
        log_position=row.log_position,
        chain_head=row.chain_head,
        files=tuple(ExportFile(**f) for f in row.files),
        manifest_sha256=row.manifest_sha256,
        error=row.error,
        version=row.version,
        attempts=row.attempts,
        started_at=row.started_at,
        retry_at=row.retry_at,
        files_removed_at=row.files_removed_at,
    )


def _values(job: ExportJob) -> dict[str, Any]:
    return {
        "status": job.status.value,
        "heartbeat_at": job.heartbeat_at,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "finished_at": job.finished_at,
        "log_position": job.log_position,
        "chain_head": job.chain_head,
        "files": [
            {"name": f.name, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256}
            for f in job.files
        ],
        "manifest_sha256": job.manifest_sha256,
        "error": job.error,
        "version": job.version,
        "attempts": job.attempts,
        "started_at": job.started_at,
        "retry_at": job.retry_at,
        "files_removed_at": job.files_removed_at,
    }


class SqlExportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def add(self, job: ExportJob) -> None:
        await self._db.execute(
            insert(_TABLE).values(
                id=job.id,
                study_id=job.study_id,
                format=job.format.value,
                requested_by=job.requested_by,
                requested_at=job.requested_at,
                **_values(job),
            )
        )

    async def get(self, job_id: uuid.UUID) -> ExportJob | None:
        row = (await self._db.execute(select(_TABLE).where(_TABLE.c.id == job_id))).first()
        return _job(row) if row else None

    async def lock(self, job_id: uuid.UUID) -> ExportJob | None:
        query = select(_TABLE).where(_TABLE.c.id == job_id).with_for_update()
        row = (await self._db.execute(query)).first()
        return _job(row) if row else None

    async def update(self, job: ExportJob) -> None:
        result = await self._db.execute(
            update(_TABLE)
            .where(_TABLE.c.id == job.id, _TABLE.c.version == job.version - 1)
            .values(**_values(job))
            .returning(_TABLE.c.id)
        )
        if result.first() is None:
            raise DomainError(ErrorCode.STALE_VERSION, "The export changed meanwhile.")

    async def beat(self, job_id: uuid.UUID, rows_done: int, rows_total: int, now: datetime) -> None:
        await self._db.execute(
            update(_TABLE)
            .where(_TABLE.c.id == job_id, _TABLE.c.status == ExportStatus.RUNNING.value)
            .values(rows_done=rows_done, rows_total=rows_total, heartbeat_at=now)
        )

    async def of_study(self, study_id: StudyId, limit: int) -> Sequence[ExportJob]:
        rows = await self._db.execute(
            select(_TABLE)
            .where(_TABLE.c.study_id == study_id)
            .order_by(_TABLE.c.requested_at.desc(), _TABLE.c.id.desc())
            .limit(limit)
        )
        return [_job(r) for r in rows]

    async def unfinished(self, study_id: StudyId) -> int:
        waiting = (ExportStatus.QUEUED.value, ExportStatus.RUNNING.value)
        query = select(func.count()).where(
            _TABLE.c.study_id == study_id, _TABLE.c.status.in_(waiting)
        )
        return int((await self._db.execute(query)).scalar_one())

    async def expired(self, finished_before: datetime, limit: int) -> Sequence[ExportJob]:
        rows = await self._db.execute(
            select(_TABLE)
            .where(
                _TABLE.c.status == ExportStatus.DONE.value,
                _TABLE.c.files_removed_at.is_(None),
                _TABLE.c.finished_at < finished_before,
            )
            .order_by(_TABLE.c.finished_at)
            .limit(limit)
        )
        return [_job(r) for r in rows]
