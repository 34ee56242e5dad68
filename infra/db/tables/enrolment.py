"""Enrolment codes (digests only) and participants' paired app installations."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class EnrolmentCodeRow(Base, table=True):
    __tablename__ = "enrolment_codes"

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    digest: bytes = Field(sa_type=LargeBinary, unique=True)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(default=None)


class AppInstallationRow(Base, table=True):
    __tablename__ = "app_installations"

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    platform: str = Field(max_length=16)
    model: str = Field(max_length=64)
    os_version: str = Field(max_length=64)
    app_version: str = Field(max_length=64)
    paired_at: datetime = timestamp()
    unpaired_at: datetime | None = timestamp(default=None)
