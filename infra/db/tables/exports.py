"""Table for export jobs: what was exported, when, by whom, at which log position."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class ExportJobRow(Base, table=True):
    __tablename__ = "export_jobs"
    __table_args__ = (
        Index("ix_export_jobs_study_requested", "study_id", "requested_at"),
        # Retention looks for done jobs that still have files, by age.
        Index(
            "ix_export_jobs_files_kept",
            "finished_at",
            postgresql_where=text("status = 'DONE' AND files_removed_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    format: str = Field(max_length=16)
    status: str = Field(max_length=16)
    requested_by: uuid.UUID | None = Field(default=None)
    requested_at: datetime = timestamp()
    heartbeat_at: datetime = timestamp()
    rows_done: int = Field(default=0, sa_type=BigInteger)
    rows_total: int = Field(default=0, sa_type=BigInteger)
    finished_at: datetime | None = timestamp(default=None)
    log_position: int | None = Field(default=None, sa_type=BigInteger)
    chain_head: str | None = Field(default=None, max_length=64)
    files: list[Any] = Field(default_factory=list, sa_type=JSONB)
    manifest_sha256: str | None = Field(default=None, max_length=64)
    error: str | None = Field(default=None, max_length=500)
    version: int = Field(default=1)
    attempts: int = Field(default=0)
    started_at: datetime | None = timestamp(default=None)
    retry_at: datetime | None = timestamp(default=None)
    files_removed_at: datetime | None = timestamp(default=None)
