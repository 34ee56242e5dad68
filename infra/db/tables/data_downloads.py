"""The participant's data downloads: the link's digest (never the token) and the sealed archive."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class DataDownloadRow(Base, table=True):
    __tablename__ = "data_downloads"

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id")
    token_digest: bytes = Field(sa_type=LargeBinary, unique=True)
    requested_by: uuid.UUID | None = Field(default=None)
    requested_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    status: str = Field(max_length=16)
    ready_at: datetime | None = timestamp(default=None)
    used_at: datetime | None = timestamp(default=None)
    archive_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    version: int = Field(default=1)
