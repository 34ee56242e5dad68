"""The participants table: pseudonymous subject ids and lifecycle state."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class ParticipantRow(Base, table=True):
    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("study_id", "subject_id"),
        UniqueConstraint("study_id", "screening_number"),
        CheckConstraint(
            "status IN ('SCREENED', 'CONSENTED', 'ENROLLED', 'COMPLETED', 'WITHDRAWN')",
            name="status",
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id", index=True)
    subject_id: str = Field(max_length=16)
    screening_number: str = Field(max_length=40)
    status: str = Field(max_length=16)
    timezone: str = Field(max_length=64)
    registered_at: datetime = timestamp()
    status_changed_at: datetime = timestamp()
    erased_at: datetime | None = timestamp(default=None)
    arm_id: uuid.UUID | None = Field(default=None, foreign_key="arms.id")
    enrolled_on: date | None = Field(default=None)
    version: int = Field(default=1)
