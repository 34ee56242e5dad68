"""Tables for coordinator alerts: a study's rules, and the alerts they raised (one per cause)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, LargeBinary, Numeric, UniqueConstraint, text
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class AlertRuleRow(Base, table=True):
    __tablename__ = "alert_rules"

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id", index=True)
    kind: str = Field(max_length=32)
    enabled: bool
    email: bool
    missed: int | None = Field(default=None)
    reading_kind: str | None = Field(default=None, max_length=32)
    low: Decimal | None = Field(default=None, sa_type=Numeric(18, 3))
    high: Decimal | None = Field(default=None, sa_type=Numeric(18, 3))
    wait_hours: int | None = Field(default=None)
    version: int = Field(default=1)


class AlertRow(Base, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        # One alert per rule and cause: two workers evaluating at once raise it once.
        UniqueConstraint("rule_id", "cause"),
        Index("ix_alerts_site", "site_id", "raised_at"),
        Index(
            "ix_alerts_unmailed",
            "site_id",
            postgresql_where=text("mail_pending"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id")
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    rule_id: uuid.UUID = Field(foreign_key="alert_rules.id")
    kind: str = Field(max_length=32)
    cause: str = Field(max_length=200)
    record_id: uuid.UUID | None = Field(default=None)
    raised_at: datetime = timestamp()
    status: str = Field(max_length=16)
    acknowledged_at: datetime | None = timestamp(default=None)
    acknowledged_by: uuid.UUID | None = Field(default=None)
    note_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    mail_pending: bool = Field(default=False)
    mailed_at: datetime | None = timestamp(default=None)
    version: int = Field(default=1)
