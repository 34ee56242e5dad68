"""Signed checkpoints: the RFC 6962 Merkle root of the log at a size, signed with Ed25519."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class CheckpointRow(Base, table=True):
    __tablename__ = "audit_checkpoints"

    tree_size: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    root_hash: bytes = Field(sa_type=LargeBinary)
    chain_head: bytes = Field(sa_type=LargeBinary)
    frontier: bytes = Field(sa_type=LargeBinary)  # lets the next checkpoint hash only new events
    created_at: datetime = timestamp()
    key_id: str = Field(max_length=32)
    signature: bytes = Field(sa_type=LargeBinary)
