"""Tables for clinical records: adverse events, concomitant medications, protocol deviations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class AdverseEventRow(Base, table=True):
    __tablename__ = "adverse_events"
    __table_args__ = (
        Index("ix_adverse_events_participant", "participant_id", "reported_at"),
        Index("ix_adverse_events_study", "study_id", "participant_id", "reported_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id")
    status: str = Field(max_length=16)
    reported_by: str = Field(max_length=16)
    description_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    # The coded fields (term, dates, severity, seriousness, MedDRA codes): none personal.
    details: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    serious: bool
    reported_at: datetime = timestamp()
    recorded_at: datetime | None = timestamp(default=None)
    recorded_by: uuid.UUID | None = Field(default=None)
    serious_since: datetime | None = timestamp(default=None)
    report_due_at: datetime | None = timestamp(default=None)
    reported_to_sponsor_at: datetime | None = timestamp(default=None)
    reason_code: str | None = Field(default=None, max_length=40)
    version: int = Field(default=1)


class MedicationRow(Base, table=True):
    __tablename__ = "concomitant_medications"
    __table_args__ = (
        Index("ix_concomitant_medications_participant", "participant_id", "reported_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id")
    status: str = Field(max_length=16)
    reported_by_participant: bool
    # The name as reported, coded fields, dose, route, frequency, dates: none personal.
    details: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    reported_at: datetime = timestamp()
    recorded_at: datetime | None = timestamp(default=None)
    recorded_by: uuid.UUID | None = Field(default=None)
    reason_code: str | None = Field(default=None, max_length=40)
    version: int = Field(default=1)


class DeviationRow(Base, table=True):
    __tablename__ = "protocol_deviations"
    __table_args__ = (
        Index("ix_protocol_deviations_participant", "participant_id", "detected_at"),
        # A record raises each automatic deviation once, however often it is written.
        Index(
            "uq_protocol_deviations_trigger",
            "trigger_type",
            "trigger_id",
            "category",
            unique=True,
            postgresql_where="trigger_id IS NOT NULL",
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    site_id: uuid.UUID = Field(foreign_key="sites.id")
    category: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    term: str = Field(max_length=200)
    occurred_on: str | None = Field(default=None, max_length=10)
    source: str = Field(max_length=16)
    trigger_type: str | None = Field(default=None, max_length=40)
    trigger_id: uuid.UUID | None = Field(default=None)
    status: str = Field(max_length=16)
    resolution: str | None = Field(default=None, max_length=1000)
    detected_at: datetime = timestamp()
    detected_by: uuid.UUID | None = Field(default=None)
    resolved_at: datetime | None = timestamp(default=None)
    resolved_by: uuid.UUID | None = Field(default=None)
    reason_code: str | None = Field(default=None, max_length=40)
    version: int = Field(default=1)
