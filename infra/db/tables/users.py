"""Staff users and their role grants. E-mail and name are sealed; e-mail has a blind index."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, LargeBinary, UniqueConstraint
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class StaffUserRow(Base, table=True):
    __tablename__ = "staff_users"

    id: uuid.UUID = Field(primary_key=True)
    email_index: bytes = Field(sa_type=LargeBinary, unique=True)
    email_sealed: bytes = Field(sa_type=LargeBinary)
    name_sealed: bytes = Field(sa_type=LargeBinary)
    password_hash: str = Field(max_length=255)
    status: str = Field(max_length=16)
    created_at: datetime = timestamp()
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = timestamp(default=None)
    version: int = Field(default=1)


class StaffGrantRow(Base, table=True):
    __tablename__ = "staff_grants"
    __table_args__ = (
        UniqueConstraint(
            "user_id", "role", "study_id", "site_id", postgresql_nulls_not_distinct=True
        ),
        CheckConstraint(
            "role IN ('ADMIN', 'COORDINATOR', 'INVESTIGATOR', 'MONITOR', 'DATA_MANAGER')",
            name="role",
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="staff_users.id", index=True)
    role: str = Field(max_length=16)
    study_id: uuid.UUID | None = Field(default=None, foreign_key="studies.id")
    site_id: uuid.UUID | None = Field(default=None, foreign_key="sites.id")
