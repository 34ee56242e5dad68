"""Personal values of audit events, kept beside the log so they can be redacted or shredded.

The log itself holds only a salted SHA-256 commitment to each personal value; the value and
its salt live here, sealed with the data subject's key. Redaction clears one row, erasure
destroys the key, and in both cases the hash chain still verifies.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class SealedValueRow(Base, table=True):
    __tablename__ = "audit_sealed_values"

    event_id: uuid.UUID = Field(primary_key=True)
    field: str = Field(primary_key=True, max_length=64)
    side: str = Field(primary_key=True, max_length=3)
    owner_id: uuid.UUID = Field(index=True)
    sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    redacted_at: datetime | None = timestamp(default=None)
