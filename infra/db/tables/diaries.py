"""Tables for questionnaires, diary schedules, diary entries and data change requests."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, UniqueConstraint, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class QuestionnaireVersionRow(Base, table=True):
    __tablename__ = "questionnaire_versions"
    __table_args__ = (UniqueConstraint("study_id", "code", "version"),)

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    code: str = Field(max_length=32)
    version: int
    document: dict[str, Any] = Field(sa_type=JSONB)
    content_hash: str = Field(max_length=64)
    published_at: datetime = timestamp()


class DiaryScheduleRow(Base, table=True):
    __tablename__ = "diary_schedules"

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id", index=True)
    questionnaire_code: str = Field(max_length=32)
    arm_id: uuid.UUID | None = Field(default=None, foreign_key="arms.id")
    recurrence: dict[str, Any] = Field(sa_type=JSONB)
    late_policy: str = Field(max_length=16)
    late_grace_seconds: int
    created_at: datetime = timestamp()
    version: int = Field(default=1)
    # The study's reminder policy for this diary (rules, quiet hours, daily cap); null: the
    # installation's default.
    reminder_policy: dict[str, Any] | None = Field(default=None, sa_type=JSONB, nullable=True)


class DiaryEntryRow(Base, table=True):
    __tablename__ = "diary_entries"
    __table_args__ = (
        # One accepted answer per occurrence; a second one is kept, quarantined, for review.
        Index(
            "uq_diary_entries_occurrence",
            "participant_id",
            "schedule_id",
            "occurrence_key",
            unique=True,
            postgresql_where=text("status = 'ACCEPTED'"),
        ),
        Index("ix_diary_entries_participant_due", "participant_id", "due_at"),
    )

    id: uuid.UUID = Field(primary_key=True)  # chosen by the app: the idempotency key
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id")
    schedule_id: uuid.UUID = Field(foreign_key="diary_schedules.id")
    occurrence_key: str = Field(max_length=32)
    due_at: datetime = timestamp()
    questionnaire_code: str = Field(max_length=32)
    questionnaire_version: int
    content_hash: str = Field(max_length=64)
    answers: dict[str, Any] = Field(sa_type=JSONB)
    free_text_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    completed_at: datetime = timestamp()
    completed_offset: str = Field(max_length=6)  # the device's UTC offset, e.g. "+02:00"
    received_at: datetime = timestamp()
    timeliness: str = Field(max_length=16)
    status: str = Field(max_length=16)
    quarantine_code: str | None = Field(default=None, max_length=32)
    entered_by: uuid.UUID
    proxy_reason_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    clock_skewed: bool
    digest: str = Field(max_length=64)
    version: int = Field(default=1)
    consent_superseded: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class DataChangeRequestRow(Base, table=True):
    __tablename__ = "data_change_requests"

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    record_type: str = Field(max_length=40)
    record_id: uuid.UUID = Field(index=True)
    items: list[Any] = Field(sa_type=JSONB)
    reason_sealed: bytes = Field(sa_type=LargeBinary)
    requested_by: uuid.UUID
    applied_at: datetime = timestamp()
