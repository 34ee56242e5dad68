"""GraphQL types for the audit trail: who did what, when, why and where, searchable."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import camel
from api.relay import Connection, from_global_id, page_request, to_global_id
from domain.errors import DomainError, ErrorCode
from domain.pagination import Page
from domain.services import trail as cases
from domain.trail import TrailEvent, TrailQuery, TrailValue


@strawberry.enum(name="AuditValueState")
class AuditValueState(StrEnum):
    PLAIN = "PLAIN"
    REVEALED = "REVEALED"
    WITHHELD = "WITHHELD"
    REDACTED = "REDACTED"
    ERASED = "ERASED"


@strawberry.type(description="A logged value, or why you cannot see it.")
class AuditValue:
    state: AuditValueState
    value: JSON | None

    @classmethod
    def of(cls, value: TrailValue) -> AuditValue:
        return cls(state=AuditValueState(value.state), value=JSON(value.value))


@strawberry.type
class AuditFieldChange:
    field: str
    personal: bool
    old: AuditValue
    new: AuditValue


@strawberry.type
class AuditActor:
    kind: str
    id: str | None
    role: str


@strawberry.type
class AuditOrigin:
    request_id: str | None
    app_version: str | None
    device_id: str | None
    device_time: str | None


@strawberry.type(description="One event of the tamper-evident log.")
class AuditEvent:
    position: int | None = strawberry.field(
        description="Position in its log, from 1, without gaps; null for the moment between "
        "the change and the event being sequenced into its log."
    )
    log: str = strawberry.field(
        description="The log it belongs to (its study's, or the installation's), as named in "
        "that log's signed checkpoints."
    )
    id: str
    recorded_at: datetime = strawberry.field(description="Server time (UTC).")
    actor: AuditActor
    study_id: strawberry.ID | None
    site_id: strawberry.ID | None
    participant_id: strawberry.ID | None
    entity_type: str
    entity_id: str
    action: str
    changes: list[AuditFieldChange]
    reason: AuditValue | None
    reason_code: str | None = strawberry.field(
        description="The coded reason for change (e.g. TRANSCRIPTION_ERROR); the free-text "
        "reason beside it stays sealed and site-only."
    )
    origin: AuditOrigin
    hash: str | None = strawberry.field(
        description="SHA-256 chain hash (hex), once the event is in its log."
    )


@strawberry.input
class AuditTrailFilter:
    participant_id: strawberry.ID | None = None
    study_id: strawberry.ID | None = None
    site_id: strawberry.ID | None = None
    entity_type: str | None = None
    entity_id: str | None = strawberry.field(default=None, description="The entity's UUID.")
    field: str | None = strawberry.field(default=None, description="e.g. 'screeningNumber'.")
    actor_id: str | None = None
    since: datetime | None = strawberry.field(default=None, description="Inclusive.")
    until: datetime | None = strawberry.field(default=None, description="Exclusive.")


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def _uuid(raw: str | None, field: str) -> uuid.UUID | None:
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as error:
        raise DomainError(ErrorCode.INVALID_ID, "Use a UUID.", field=field) from error


def _global(raw: strawberry.ID | None, kind: str) -> uuid.UUID | None:
    return from_global_id(raw, kind)[1] if raw is not None else None


def _query(f: AuditTrailFilter | None, newest_first: bool) -> TrailQuery:
    f = f or AuditTrailFilter()
    return TrailQuery(
        participant_id=_global(f.participant_id, "Participant"),
        study_id=_global(f.study_id, "Study"),
        site_id=_global(f.site_id, "Site"),
        entity_type=f.entity_type,
        entity_id=_uuid(f.entity_id, "entity_id"),
        field=_SNAKE.sub("_", f.field).lower() if f.field else None,
        actor_id=_uuid(f.actor_id, "actor_id"),
        since=f.since,
        until=f.until,
        newest_first=newest_first,
    )


def _exposed(event: TrailEvent) -> AuditEvent:
    return AuditEvent(
        position=event.position,
        log=event.log,
        id=str(event.id),
        recorded_at=event.recorded_at,
        actor=AuditActor(
            kind=event.actor_kind,
            id=str(event.actor_id) if event.actor_id else None,
            role=event.actor_role,
        ),
        study_id=to_global_id("Study", event.study_id) if event.study_id else None,
        site_id=to_global_id("Site", event.site_id) if event.site_id else None,
        participant_id=(
            to_global_id("Participant", event.participant_id) if event.participant_id else None
        ),
        entity_type=event.entity_type,
        entity_id=str(event.entity_id),
        action=event.action,
        changes=[
            AuditFieldChange(
                field=camel(f.field) or f.field,
                personal=f.personal,
                old=AuditValue.of(f.old),
                new=AuditValue.of(f.new),
            )
            for f in event.fields
        ],
        reason=AuditValue.of(event.reason) if event.reason else None,
        reason_code=event.reason_code,
        origin=AuditOrigin(
            request_id=event.origin.get("requestId"),
            app_version=event.origin.get("appVersion"),
            device_id=event.origin.get("deviceId"),
            device_time=event.origin.get("deviceTime"),
        ),
        hash=event.hash,
    )


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="The audit trail you may read, in the order it was written (oldest first "
        "unless newestFirst); personal values are revealed only to those who may see that "
        "person's identifiers."
    )
    async def audit_trail(
        self,
        info: Info,
        *,
        filter: AuditTrailFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        newest_first: bool = False,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AuditEvent]:
        page: Page[TrailEvent] = await cases.audit_trail(
            uow=info.context.services.uow(),
            ctx=info.context.caller,
            query=_query(filter, newest_first),
            request=page_request(first, after, "audit", int, last=last, before=before),
        )
        return Connection[AuditEvent].of(page, _exposed, lambda e: (str(e.order),), "audit")
