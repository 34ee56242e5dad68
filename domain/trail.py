"""The audit trail as readers see it: searchable events with values revealed only if allowed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from domain.audit import JsonValue


@dataclass(frozen=True)
class TrailQuery:
    """Filters for the trail; every one is optional and they combine with AND."""

    participant_id: uuid.UUID | None = None
    study_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    field: str | None = None
    actor_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    newest_first: bool = False


class ValueState:
    PLAIN = "PLAIN"  # not personal: logged as is
    REVEALED = "REVEALED"  # personal, opened for a reader allowed to see it
    WITHHELD = "WITHHELD"  # personal, this reader may not see it
    REDACTED = "REDACTED"  # removed on purpose, with a logged reason
    ERASED = "ERASED"  # the data subject's key was destroyed


@dataclass(frozen=True)
class TrailValue:
    state: str
    value: JsonValue = None


@dataclass(frozen=True)
class TrailField:
    field: str
    personal: bool
    old: TrailValue
    new: TrailValue


@dataclass(frozen=True)
class TrailEvent:
    """One event as a reader sees it.

    Events are written at once but get their place in their log (`position`, `hash`) a
    moment later, when the integrator sequences them: until then both are None. The trail
    is ordered by `order`, the order events were written in, which is known at once.
    """

    position: int | None
    id: uuid.UUID
    recorded_at: datetime
    actor_kind: str
    actor_id: uuid.UUID | None
    actor_role: str
    study_id: uuid.UUID | None
    site_id: uuid.UUID | None
    participant_id: uuid.UUID | None
    entity_type: str
    entity_id: uuid.UUID
    action: str
    fields: tuple[TrailField, ...]
    reason: TrailValue | None
    origin: dict[str, str | None] = field(default_factory=dict)
    reason_code: str | None = None  # the coded reason for change, readable to every reader
    hash: str | None = None
    log: str = ""  # the log's name (its checkpoints' origin line)
    order: int = 0  # the order the event was written in, across all logs
