"""Sign-in sessions (refresh-token families), their refresh tokens, and rate-limit counters."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class SessionRow(Base, table=True):
    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_subject", "subject_id", "revoked_at"),)

    id: uuid.UUID = Field(primary_key=True)
    subject_id: uuid.UUID
    subject_kind: str = Field(max_length=16)
    installation_id: uuid.UUID | None = Field(default=None)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    revoked_at: datetime | None = timestamp(default=None)
    revoked_reason: str | None = Field(default=None, max_length=32)


class RefreshTokenRow(Base, table=True):
    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="sessions.id", index=True)
    digest: bytes = Field(sa_type=LargeBinary, unique=True)  # keyed HMAC; the token is never stored
    issued_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(default=None)


class RateLimitRow(Base, table=True):
    __tablename__ = "rate_limits"

    bucket: str = Field(primary_key=True, max_length=32)
    key: bytes = Field(primary_key=True, sa_type=LargeBinary)  # keyed digest: no IPs or e-mails
    window_start: datetime = timestamp(primary_key=True)
    hits: int = Field(default=0)
