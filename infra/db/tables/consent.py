"""Tables for consent documents, participants' consents and Part 11 signatures."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from infra.db.tables.base import Base, timestamp


class ConsentVersionRow(Base, table=True):
    __tablename__ = "consent_versions"
    __table_args__ = (UniqueConstraint("study_id", "number"),)

    id: uuid.UUID = Field(primary_key=True)
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    number: int
    texts: list[Any] = Field(sa_type=JSONB)  # the document itself: not personal data
    content_hash: str = Field(max_length=64)
    published_at: datetime = timestamp()
    version: int = Field(default=1)


class ConsentRow(Base, table=True):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_participant", "participant_id", "signed_at"),)

    id: uuid.UUID = Field(primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id")
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    consent_version_id: uuid.UUID = Field(foreign_key="consent_versions.id")
    number: int
    language: str = Field(max_length=16)
    signed_name_sealed: bytes = Field(sa_type=LargeBinary)
    signed_at: datetime = timestamp()
    version: int = Field(default=1)


class WithdrawalRow(Base, table=True):
    """A withdrawal of consent and its reach: whether it covers data already collected."""

    __tablename__ = "consent_withdrawals"

    participant_id: uuid.UUID = Field(primary_key=True, foreign_key="participants.id")
    study_id: uuid.UUID = Field(foreign_key="studies.id")
    withdrawn_at: datetime = timestamp()
    covers_collected_data: bool
    version: int = Field(default=1)


class SignatureRow(Base, table=True):
    __tablename__ = "signatures"

    id: uuid.UUID = Field(primary_key=True)
    signer_id: uuid.UUID
    signer_kind: str = Field(max_length=16)
    printed_name_sealed: bytes = Field(sa_type=LargeBinary)
    meaning: str = Field(max_length=32)
    signed_at: datetime = timestamp()
    record_type: str = Field(max_length=40)
    record_id: uuid.UUID = Field(index=True)
    record_version: int
    record_hash: str = Field(max_length=64)
