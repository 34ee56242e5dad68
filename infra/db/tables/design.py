"""Tables for the study design: arms and visit definitions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class ArmRow(Base, table=True):
    __tablename__ = "arms"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    code: str = Field(max_length=32)
    name: str = Field(max_length=200)
    created_at: datetime = timestamp()


class VisitDefinitionRow(Base, table=True):
    __tablename__ = "visit_definitions"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    code: str = Field(max_length=8)
    name: str = Field(max_length=200)
    day: int
    window_before: int
    window_after: int
    modes: list[Any] = Field(sa_type=JSONB)
    created_at: datetime = timestamp()
