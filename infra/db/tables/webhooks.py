"""Tables for webhook endpoints (secrets sealed), their deliveries and every try."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, LargeBinary, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class WebhookEndpointRow(Base, table=True):
    __tablename__ = "webhook_endpoints"

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id", index=True)
    url: str = Field(max_length=2048)
    event_types: list[Any] = Field(default_factory=list, sa_type=JSONB)
    enabled: bool = Field(default=True)
    # Sealed with the endpoint's own data key (owner kind "webhook"): deleting the endpoint
    # destroys the key, so a backup keeps no usable secret.
    secret_sealed: bytes = Field(sa_type=LargeBinary)
    previous_secret_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    previous_secret_until: datetime | None = timestamp(default=None)
    secret_rotated_at: datetime = timestamp()
    created_at: datetime = timestamp()
    disabled_at: datetime | None = timestamp(default=None)
    disabled_because: str | None = Field(default=None, max_length=16)
    failed_in_a_row: int = Field(default=0)
    cursor: int = Field(default=0, sa_type=BigInteger)
    replays: int = Field(default=0)
    version: int = Field(default=1)


class WebhookDeliveryRow(Base, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", "round"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    endpoint_id: uuid.UUID = Field(
        sa_column=Column(
            "endpoint_id",
            Uuid(),
            ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    event_id: uuid.UUID
    log_position: int = Field(sa_type=BigInteger)
    event_type: str = Field(max_length=40)
    message_id: str = Field(max_length=64)
    round: int = Field(default=0)
    status: str = Field(max_length=16)
    attempts: int = Field(default=0)
    created_at: datetime = timestamp()
    next_try_at: datetime | None = timestamp(default=None)
    finished_at: datetime | None = timestamp(default=None)


class WebhookAttemptRow(Base, table=True):
    __tablename__ = "webhook_attempts"

    delivery_id: uuid.UUID = Field(
        sa_column=Column(
            "delivery_id",
            Uuid(),
            ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = timestamp()
    status_code: int | None = Field(default=None)
    latency_ms: float
    error: str | None = Field(default=None, max_length=200)
    outcome: str = Field(max_length=16)
    next_try_at: datetime | None = timestamp(default=None)
