"""Signed checkpoints: a log's RFC 6962 Merkle root at a size, signed with Ed25519.

Checkpoints sealed by the integrator keep their C2SP signed note (`note`); those from
before per-study logs have none and are checked as they were signed (a JSON statement).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, Text
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class CheckpointRow(Base, table=True):
    __tablename__ = "audit_checkpoints"

    log_id: uuid.UUID = Field(primary_key=True)
    tree_size: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    root_hash: bytes = Field(sa_type=LargeBinary)
    chain_head: bytes = Field(sa_type=LargeBinary)
    frontier: bytes = Field(sa_type=LargeBinary)  # lets the next checkpoint hash only new events
    created_at: datetime = timestamp()
    key_id: str = Field(max_length=32)
    signature: bytes = Field(sa_type=LargeBinary)
    note: str | None = Field(default=None, sa_type=Text)
