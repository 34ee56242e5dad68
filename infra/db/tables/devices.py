"""Tables for devices and their readings (high volume: written with COPY)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, LargeBinary, Numeric, UniqueConstraint, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class DeviceRow(Base, table=True):
    """A device; its serial is sealed with the device's own key, unique per study by index."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("study_id", "serial_index"),)

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id", index=True)
    kinds: list[Any] = Field(sa_type=JSONB)
    model: str = Field(max_length=100)
    serial_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    serial_index: bytes | None = Field(default=None, sa_type=LargeBinary)
    # Written in the clear before 0008; sealed and emptied at the next migrate or start-up.
    legacy_serial: str | None = Field(default=None, max_length=100)
    registered_at: datetime = timestamp()
    participant_id: uuid.UUID | None = Field(
        default=None, foreign_key="participants.id", index=True
    )
    assigned_at: datetime | None = timestamp(default=None)
    version: int = Field(default=1)


class DeviceAssignmentRow(Base, table=True):
    """Who held a device when: readings belong to the holder at their effective time."""

    __tablename__ = "device_assignments"

    id: uuid.UUID = Field(primary_key=True)
    device_id: uuid.UUID = Field(foreign_key="devices.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    since: datetime = timestamp()
    until: datetime | None = timestamp(default=None)


class ReadingRow(Base, table=True):
    __tablename__ = "device_readings"
    __table_args__ = (
        # Deduplication: a device's record of one measurement is stored once.
        UniqueConstraint("device_id", "kind", "effective_start", "source_id"),
        Index(
            "ix_device_readings_participant_kind_start", "participant_id", "kind", "effective_start"
        ),
        # The site's review list: few rows, read often.
        Index(
            "ix_device_readings_quarantined",
            "site_id",
            "effective_start",
            postgresql_where=text("status = 'QUARANTINED'"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    device_id: uuid.UUID = Field(foreign_key="devices.id")
    study_id: uuid.UUID
    site_id: uuid.UUID
    kind: str = Field(max_length=32)
    effective_start: datetime = timestamp()
    effective_end: datetime | None = timestamp(default=None)
    effective_offset: str = Field(max_length=6)  # the device's UTC offset at the start
    source_id: str = Field(max_length=200)
    components: dict[str, Any] = Field(sa_type=JSONB)  # canonical and original value and unit
    primary_value: Decimal = Field(sa_type=Numeric(18, 3))
    received_at: datetime = timestamp()
    device_time: datetime | None = timestamp(default=None)
    clock_skewed: bool
    batch_id: uuid.UUID = Field(index=True)
    deleted_at: datetime | None = timestamp(default=None)
    deleted_reason_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    version: int = Field(default=1)
    # Defaults in the database too: bulk loaders that predate these columns still COPY.
    status: str = Field(
        default="ACCEPTED", max_length=16, sa_column_kwargs={"server_default": "ACCEPTED"}
    )
    quarantine_code: str | None = Field(default=None, max_length=32)
    consent_superseded: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    device_time_offset: str | None = Field(default=None, max_length=6)
    effective_end_offset: str | None = Field(default=None, max_length=6)
    reviewed_at: datetime | None = timestamp(default=None)
    reviewed_by: uuid.UUID | None = Field(default=None)
    review_reason_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
