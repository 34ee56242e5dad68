"""Tables for studies and sites."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class StudyRow(Base, table=True):
    __tablename__ = "studies"

    id: uuid.UUID = Field(primary_key=True)
    code: str = Field(max_length=32, unique=True)
    title: str = Field(max_length=200)
    created_at: datetime = timestamp()
    version: int = Field(default=1)


class SiteRow(Base, table=True):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id", index=True)
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)
    country: str = Field(max_length=2)
    timezone: str = Field(max_length=64)
    created_at: datetime = timestamp()
    version: int = Field(default=1)
