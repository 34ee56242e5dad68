"""The installation: its identity (it names the logs) and the keys it was set up with."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class InstallationRow(Base, table=True):
    __tablename__ = "installation"

    id: uuid.UUID = Field(primary_key=True)
    created_at: datetime = timestamp()


class InstallationKeyRow(Base, table=True):
    """A fingerprint of one of the installation's keys; written once, never changed."""

    __tablename__ = "installation_keys"

    purpose: str = Field(primary_key=True, max_length=32)
    fingerprint: str = Field(max_length=128)
    recorded_at: datetime = timestamp()
