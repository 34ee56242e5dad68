"""Tables for reminders: one row per (participant, send key) claimed before any send, and
the participants' Web Push subscriptions (sealed, found by a blind index of the endpoint)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class NotificationRow(Base, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("participant_id", "send_key"),
        CheckConstraint(
            "state IN ('QUEUED', 'SENT', 'DELIVERED', 'OPENED', 'FAILED')", name="state"
        ),
        Index("ix_notifications_due", "next_attempt_at", postgresql_where="state = 'QUEUED'"),
        Index("ix_notifications_site", "site_id", "planned_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id")
    send_key: str = Field(max_length=200)
    template: str = Field(max_length=64)
    template_version: int
    language: str = Field(max_length=35)
    state: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=200)
    attempts: int = Field(default=0)
    channel: str | None = Field(default=None, max_length=16)
    planned_at: datetime = timestamp()
    created_at: datetime = timestamp()
    next_attempt_at: datetime | None = timestamp(default=None)
    sent_at: datetime | None = timestamp(default=None)
    opened_at: datetime | None = timestamp(default=None)


class PushSubscriptionRow(Base, table=True):
    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("participant_id", "endpoint_index"),)

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    endpoint_index: bytes = Field(sa_type=LargeBinary)
    # The subscription as JSON (endpoint and keys), sealed with the participant's key.
    subscription_sealed: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = timestamp()
