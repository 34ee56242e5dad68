"""Wrapped data keys: one per data subject (participant or staff user), never stored raw."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary, text
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class DataKeyRow(Base, table=True):
    __tablename__ = "data_keys"
    __table_args__ = (
        # One live key per subject; destroyed ones stay as tombstones (erasure is logged).
        Index(
            "uq_data_keys_live_owner",
            "owner_id",
            unique=True,
            postgresql_where=text("wrapped IS NOT NULL"),
        ),
        Index("ix_data_keys_owner_id", "owner_id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    owner_id: uuid.UUID
    owner_kind: str = Field(max_length=16)
    kek_id: str = Field(max_length=64)
    wrapped: bytes | None = Field(default=None, sa_type=LargeBinary)
    created_at: datetime = timestamp()
    rewrapped_at: datetime | None = timestamp(default=None)
    destroyed_at: datetime | None = timestamp(default=None)
