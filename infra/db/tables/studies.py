"""Tables for studies and sites."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from domain.reason_codes import DEFAULT_REASON_CODES
from infra.db.tables.base import Base, timestamp

DEFAULT_CODES = json.dumps([c.value for c in DEFAULT_REASON_CODES])


class StudyRow(Base, table=True):
    """A study; once closed it stays closed, and only a closed study is ever purged."""

    __tablename__ = "studies"
    __table_args__ = (
        CheckConstraint(
            "retention_years IS NULL OR retention_years BETWEEN 1 AND 100",
            name="retention_years",
        ),
        CheckConstraint("retention_from IN ('STUDY_CLOSURE')", name="retention_from"),
        CheckConstraint("purged_at IS NULL OR closed_at IS NOT NULL", name="purged_after_closure"),
        CheckConstraint("reason_codes @> '[\"OTHER\"]'::jsonb", name="reason_codes_other"),
    )

    id: uuid.UUID = Field(primary_key=True)
    code: str = Field(max_length=32, unique=True)
    title: str = Field(max_length=200)
    created_at: datetime = timestamp()
    retention_years: int | None = Field(default=None)  # None: the installation's minimum
    retention_from: str = Field(
        default="STUDY_CLOSURE", max_length=32, sa_column_kwargs={"server_default": "STUDY_CLOSURE"}
    )
    closed_at: datetime | None = timestamp(default=None)
    purged_at: datetime | None = timestamp(default=None)
    # The reason codes the study's changes may carry, in the catalogue's order.
    reason_codes: list[Any] = Field(
        sa_type=JSONB, sa_column_kwargs={"server_default": text(f"'{DEFAULT_CODES}'::jsonb")}
    )
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
    # How participants reach the site (a phone number, an e-mail): shown in their app.
    contact: str | None = Field(default=None, max_length=300)
    version: int = Field(default=1)
