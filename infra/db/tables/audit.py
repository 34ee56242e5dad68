"""The event log table: append-only, hash-chained, one row per audit event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class AuditEventRow(Base, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id", "seq"),
        Index("ix_audit_events_participant", "participant_id", "seq"),
        Index("ix_audit_events_study", "study_id", "seq"),
        Index("ix_audit_events_actor", "actor_id", "seq"),
        Index("ix_audit_events_recorded_at", "recorded_at"),
        Index(
            "ix_audit_events_fields",
            "fields",
            postgresql_using="gin",
            postgresql_ops={"fields": "jsonb_path_ops"},
        ),
    )

    seq: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    id: uuid.UUID = Field(unique=True)
    recorded_at: datetime = timestamp()
    actor_kind: str = Field(max_length=16)
    actor_id: uuid.UUID | None = Field(default=None)
    actor_role: str = Field(max_length=16)
    study_id: uuid.UUID | None = Field(default=None)
    site_id: uuid.UUID | None = Field(default=None)
    participant_id: uuid.UUID | None = Field(default=None)
    entity_type: str = Field(max_length=40)
    entity_id: uuid.UUID
    action: str = Field(max_length=40)
    fields: list[dict[str, Any]] = Field(sa_type=JSONB)
    reason: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    origin: dict[str, Any] = Field(sa_type=JSONB)
    prev_hash: bytes = Field(sa_type=LargeBinary)
    hash: bytes = Field(sa_type=LargeBinary)
