"""Tables for remote visits and monitors' queries."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class VisitRow(Base, table=True):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_site_start", "site_id", "starts_at"),
        Index("ix_visits_participant_start", "participant_id", "starts_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id")
    definition_id: uuid.UUID = Field(foreign_key="visit_definitions.id")
    mode: str = Field(max_length=16)
    local_start: str = Field(max_length=19)  # wall time "YYYY-MM-DDTHH:MM:SS" in `timezone`
    timezone: str = Field(max_length=64)
    starts_at: datetime = timestamp()
    duration_minutes: int
    assignee_id: uuid.UUID | None = Field(default=None)
    status: str = Field(max_length=16)
    out_of_window: bool
    outcome: str | None = Field(default=None, max_length=32)
    notes_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    completed_at: datetime | None = timestamp(default=None)
    version: int = Field(default=1)


class DataQueryRow(Base, table=True):
    __tablename__ = "data_queries"
    __table_args__ = (
        Index("ix_data_queries_site_status", "site_id", "status"),
        Index("ix_data_queries_record", "record_id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id")
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    record_type: str = Field(max_length=40)
    record_id: uuid.UUID
    field: str | None = Field(default=None, max_length=64)
    question_sealed: bytes = Field(sa_type=LargeBinary)
    status: str = Field(max_length=16)
    raised_by: uuid.UUID
    raised_at: datetime = timestamp()
    answer_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    answered_by: uuid.UUID | None = Field(default=None)
    answered_at: datetime | None = timestamp(default=None)
    closed_by: uuid.UUID | None = Field(default=None)
    closed_at: datetime | None = timestamp(default=None)
    version: int = Field(default=1)


class ParticipantZoneRow(Base, table=True):
    __tablename__ = "participant_zones"

    participant_id: uuid.UUID = Field(primary_key=True, foreign_key="participants.id")
    effective_from: datetime = timestamp(primary_key=True)
    timezone: str = Field(max_length=64)
