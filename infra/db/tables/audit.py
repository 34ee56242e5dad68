"""The event log's tables: immutable events, their places in a log's chain, and the queue.

A request inserts its event (`audit_events`: the canonical JSON `body`, every other column
generated from it, so no column can say anything the hashed bytes do not) and a row in
`audit_pending`, in its own transaction. The integrator later gives the event its position
and chain hash in its log (`audit_chain`) and takes it off the queue. Events and chain rows
are never updated or deleted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from infra.db.tables.base import Base

# The log of events from before per-study logs (the Max UUID, RFC 9562); see infra/eventlog/logs.py.
LEGACY_LOG_SQL = "'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid"
INGEST_SEQUENCE = "audit_events_ingest_seq"
# Text matches on the canonical body, no JSON parsing on the write path: these quoted keys
# can only be structure (quotes inside strings are escaped), and a false match would only
# make verify open one more event.
PERSONAL_SQL = (
    '((body ~~ \'%"personal"\\:true%\') OR (body ~~ \'%"sealed":"sha256:%\') '
    'OR (body ~~ \'%"action":"redacted"%\') OR (body ~~ \'%"action":"erased"%\'))'
)


def _text(key: str) -> str:
    return f"(body::jsonb ->> '{key}')"


def _generated(name: str, kind: Any, expression: str, *, nullable: bool = True) -> Any:
    return Field(
        sa_column=Column(name, kind, Computed(expression, persisted=True), nullable=nullable)
    )


def _uuid(name: str, *, nullable: bool = True) -> Any:
    return _generated(name, Uuid(), f"{_text(name)}::uuid", nullable=nullable)


def _string(name: str, length: int) -> Any:
    return _generated(name, String(length), _text(name), nullable=False)


def _json(name: str, *, nullable: bool = False) -> Any:
    expression = f"(body::jsonb -> '{name}')"
    if nullable:  # a JSON null becomes SQL NULL, as the column always said
        expression = f"NULLIF({expression}, 'null'::jsonb)"
    return _generated(name, JSONB(), expression, nullable=nullable)


class AuditEventRow(Base, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id", "ingest"),
        Index("ix_audit_events_participant", "participant_id", "ingest"),
        Index("ix_audit_events_study", "study_id", "ingest"),
        Index("ix_audit_events_actor", "actor_id", "ingest"),
        Index("ix_audit_events_recorded_at", "recorded_at"),
        Index("ix_audit_events_personal", "ingest", postgresql_where=text("personal")),
        Index(
            "ix_audit_events_fields",
            "fields",
            postgresql_using="gin",
            postgresql_ops={"fields": "jsonb_path_ops"},
        ),
    )

    # The order events were written in, across all logs; the trail pages by it.
    ingest: int = Field(
        sa_column=Column(
            "ingest",
            BigInteger,
            primary_key=True,
            autoincrement=False,
            server_default=text(f"nextval('{INGEST_SEQUENCE}'::regclass)"),
        )
    )
    body: str = Field(sa_column=Column("body", Text, nullable=False))  # what the chain hashes
    log_id: uuid.UUID = _generated(
        "log_id", Uuid(), f"COALESCE({_text('log')}::uuid, {LEGACY_LOG_SQL})", nullable=False
    )
    id: uuid.UUID = Field(
        sa_column=Column(
            "id",
            Uuid(),
            Computed(f"{_text('id')}::uuid", persisted=True),
            nullable=False,
            unique=True,
        )
    )
    recorded_at: datetime = _generated(
        "recorded_at",
        DateTime(timezone=True),
        f"hearth_instant({_text('recorded_at')})",
        nullable=False,
    )
    actor_kind: str = _string("actor_kind", 16)
    actor_id: uuid.UUID | None = _uuid("actor_id")
    actor_role: str = _string("actor_role", 16)
    study_id: uuid.UUID | None = _uuid("study_id")
    site_id: uuid.UUID | None = _uuid("site_id")
    participant_id: uuid.UUID | None = _uuid("participant_id")
    entity_type: str = _string("entity_type", 40)
    entity_id: uuid.UUID = _uuid("entity_id", nullable=False)
    action: str = _string("action", 40)
    fields: list[dict[str, Any]] = _json("fields")
    reason: dict[str, Any] | None = _json("reason", nullable=True)
    origin: dict[str, Any] = _json("origin")
    # Whether the event commits to personal values (or redacts or erases some): the ones the
    # check of sealed values reads, found through a partial index.
    personal: bool = _generated("personal", Boolean(), PERSONAL_SQL, nullable=False)


class AuditChainRow(Base, table=True):
    """An event's place in its log: position from 1 without gaps, and its chain hash."""

    __tablename__ = "audit_chain"

    log_id: uuid.UUID = Field(primary_key=True)
    seq: int = Field(
        sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    ingest: int = Field(
        sa_column=Column(
            "ingest", BigInteger, ForeignKey("audit_events.ingest"), nullable=False, unique=True
        )
    )
    prev_hash: bytes = Field(sa_type=LargeBinary)
    hash: bytes = Field(sa_type=LargeBinary)


class PendingEventRow(Base, table=True):
    """Events written but not yet given a position: the integrator's queue."""

    __tablename__ = "audit_pending"

    ingest: int = Field(
        sa_column=Column(
            "ingest",
            BigInteger,
            ForeignKey("audit_events.ingest"),
            primary_key=True,
            autoincrement=False,
        )
    )
