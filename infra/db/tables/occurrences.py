"""Planned diary occurrences: one plan per participant and basis, and its occurrences."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import ForeignKeyConstraint, Index
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class DiaryPlanRow(Base, table=True):
    """A participant's plan under one basis (a digest of the planner's inputs): every
    occurrence due before `planned_until` is stored."""

    __tablename__ = "diary_plans"

    participant_id: uuid.UUID = Field(primary_key=True, foreign_key="participants.id")
    basis: str = Field(primary_key=True, max_length=64)
    planned_until: datetime = timestamp()


class DiaryOccurrenceRow(Base, table=True):
    __tablename__ = "diary_occurrences"
    __table_args__ = (
        ForeignKeyConstraint(
            ["participant_id", "basis"],
            ["diary_plans.participant_id", "diary_plans.basis"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_diary_occurrences_participant_id_basis_due_at", "participant_id", "basis", "due_at"
        ),
    )

    participant_id: uuid.UUID = Field(primary_key=True)
    basis: str = Field(primary_key=True, max_length=64)
    schedule_id: uuid.UUID = Field(primary_key=True, foreign_key="diary_schedules.id")
    occurrence_key: str = Field(primary_key=True, max_length=32)
    local_date: date
    local_time: time
    timezone: str = Field(max_length=64)
    due_at: datetime = timestamp()
    closes_at: datetime = timestamp()
