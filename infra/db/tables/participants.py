"""The participants table: pseudonymous subject ids, lifecycle state, the sealed screening
number and its blind index (unique per study)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, LargeBinary, UniqueConstraint
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class ParticipantRow(Base, table=True):
    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("study_id", "subject_id"),
        UniqueConstraint("study_id", "screening_number_index"),
        CheckConstraint(
            "status IN ('SCREENED', 'CONSENTED', 'ENROLLED', 'COMPLETED', 'WITHDRAWN')",
            name="status",
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id", index=True)
    subject_id: str = Field(max_length=16)
    screening_number_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    screening_number_index: bytes | None = Field(default=None, sa_type=LargeBinary)
    # Written in the clear before 0008; sealed and emptied at the next migrate or start-up.
    legacy_screening_number: str | None = Field(default=None, max_length=40)
    status: str = Field(max_length=16)
    timezone: str = Field(max_length=64)
    registered_at: datetime = timestamp()
    status_changed_at: datetime = timestamp()
    erased_at: datetime | None = timestamp(default=None)
    arm_id: uuid.UUID | None = Field(default=None, foreign_key="arms.id")
    enrolled_on: date | None = Field(default=None)
    version: int = Field(default=1)
