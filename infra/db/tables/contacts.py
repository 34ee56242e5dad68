"""Participants' contact details: every value sealed, e-mail and phone with blind indexes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, LargeBinary
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class ContactRow(Base, table=True):
    __tablename__ = "participant_contacts"
    __table_args__ = (
        Index("ix_participant_contacts_email", "study_id", "email_index"),
        Index("ix_participant_contacts_phone", "study_id", "phone_index"),
    )

    participant_id: uuid.UUID = Field(primary_key=True, foreign_key="participants.id")
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    full_name_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    email_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    email_index: bytes | None = Field(default=None, sa_type=LargeBinary)
    phone_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    phone_index: bytes | None = Field(default=None, sa_type=LargeBinary)
    date_of_birth_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    address_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    updated_at: datetime = timestamp()
    version: int = Field(default=1)
