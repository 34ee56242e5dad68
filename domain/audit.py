"""Audit changes as the domain sees them: who changed which fields of what, and why.

Use cases build a `Change` for every state change and hand it to the unit of work, which
appends it to the event log in the same transaction. Field-level diffs come from one helper,
and so does the rule that changing already-submitted data needs a reason.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, Protocol, TypeAlias

from domain.actors import Actor, Grant, Origin, RequestContext, Role
from domain.errors import DomainError, ErrorCode

JsonValue: TypeAlias = "str | int | bool | list[JsonValue] | dict[str, JsonValue] | None"


class Audited(Protocol):
    """An entity whose changes are logged field by field."""

    ENTITY: ClassVar[str]
    PERSONAL: ClassVar[frozenset[str]]
    REASON_REQUIRED: ClassVar[bool]

    @property
    def id(self) -> uuid.UUID: ...


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: JsonValue
    new: JsonValue
    personal: bool = False  # encrypted in the log with the data subject's key


@dataclass(frozen=True)
class Subject:
    """Where the change belongs: its study, site and, if personal, the participant."""

    study_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    participant_id: uuid.UUID | None = None
    data_owner: uuid.UUID | None = (
        None  # whose data key seals personal values, if not the participant's
    )

    @property
    def key_owner(self) -> uuid.UUID | None:
        return self.data_owner or self.participant_id


@dataclass(frozen=True)
class Change:
    """One audit event before the log numbers, hashes and encrypts it."""

    entity_type: str
    entity_id: uuid.UUID
    action: str
    fields: tuple[FieldChange, ...]
    actor: Actor
    role: Role
    origin: Origin
    subject: Subject
    reason: str | None = None
    # A reason that is not personal data (e.g. a legal basis) stays readable after erasure.
    public_reason: bool = False
    # The coded reason for change (domain/reason_codes.py): never personal, always readable.
    reason_code: str | None = None


def to_json(value: object) -> JsonValue:
    """A plain JSON value for a domain value; decimals and times as strings to stay exact."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return to_json(value.value)
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):  # durations as whole seconds: exact and language-neutral
        return int(value.total_seconds())
    if isinstance(value, list | tuple | frozenset):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return snapshot(value)
    raise TypeError(f"cannot log a value of type {type(value).__name__}")


def snapshot(entity: Any) -> dict[str, JsonValue]:
    return {f.name: to_json(getattr(entity, f.name)) for f in dataclasses.fields(entity)}


_NOT_LOGGED = frozenset({"version"})


def diff(before: Audited | None, after: Audited) -> tuple[FieldChange, ...]:
    """Per-field changes: only the fields whose values differ."""
    old = snapshot(before) if before is not None else {}
    new = snapshot(after)
    return tuple(
        FieldChange(name, old.get(name), value, personal=name in after.PERSONAL)
        for name, value in new.items()
        if name not in _NOT_LOGGED and (before is None or old.get(name) != value)
    )


def created(
    ctx: RequestContext, grant: Grant, entity: Audited, subject: Subject, reason: str | None = None
) -> Change:
    return Change(
        entity_type=entity.ENTITY,
        entity_id=entity.id,
        action="created",
        fields=diff(None, entity),
        actor=ctx.actor,
        role=grant.role,
        origin=ctx.origin,
        subject=subject,
        reason=normalise_reason(reason),
    )


def updated(
    ctx: RequestContext,
    grant: Grant,
    before: Audited,
    after: Audited,
    subject: Subject,
    *,
    action: str = "updated",
    reason: str | None = None,
) -> Change | None:
    """The change from `before` to `after`, or None when nothing changed.

    This is the single place that enforces "changing submitted data needs a reason".
    """
    fields = diff(before, after)
    if not fields:
        return None
    why = normalise_reason(reason)
    if after.REASON_REQUIRED and why is None:
        raise DomainError(
            ErrorCode.REASON_REQUIRED, "A reason is required to change this record.", field="reason"
        )
    return Change(
        entity_type=after.ENTITY,
        entity_id=after.id,
        action=action,
        fields=fields,
        actor=ctx.actor,
        role=grant.role,
        origin=ctx.origin,
        subject=subject,
        reason=why,
    )


MAX_REASON_LENGTH = 1000


def normalise_reason(reason: str | None) -> str | None:
    if reason is None or not reason.strip():
        return None
    text = reason.strip()
    if len(text) > MAX_REASON_LENGTH:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            f"A reason is at most {MAX_REASON_LENGTH} characters.",
            field="reason",
        )
    return text
