"""Who is acting: the authenticated actor, their grants, and where the request came from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.ids import SiteId, StudyId


class Role(StrEnum):
    ADMIN = "ADMIN"
    COORDINATOR = "COORDINATOR"
    INVESTIGATOR = "INVESTIGATOR"
    MONITOR = "MONITOR"
    DATA_MANAGER = "DATA_MANAGER"
    PARTICIPANT = "PARTICIPANT"
    SYSTEM = "SYSTEM"
    ANONYMOUS = "ANONYMOUS"  # only in the audit trail: who acted before signing in


class ActorKind(StrEnum):
    ANONYMOUS = "ANONYMOUS"
    STAFF = "STAFF"
    PARTICIPANT = "PARTICIPANT"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True)
class Grant:
    """A role held on a scope: everywhere (admin), a whole study, or one site of it."""

    role: Role
    study_id: StudyId | None = None
    site_id: SiteId | None = None


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: uuid.UUID | None = None
    grants: tuple[Grant, ...] = ()
    session_id: uuid.UUID | None = None  # the sign-in this request belongs to

    @property
    def is_authenticated(self) -> bool:
        return self.kind is not ActorKind.ANONYMOUS


ANONYMOUS = Actor(kind=ActorKind.ANONYMOUS)


def system_actor(operator: str = "cli") -> Actor:
    """The actor for operator commands run on the server itself (migrations, key rotation)."""
    return Actor(
        kind=ActorKind.SYSTEM,
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"hearth:system:{operator}"),
        grants=(Grant(Role.SYSTEM),),
    )


@dataclass(frozen=True)
class Origin:
    """Where a change came from: request id, client software, device and its clock, and the
    client's network address (as the trusted proxies report it; see api/proxies.py)."""

    request_id: str = ""
    app_version: str | None = None
    device_id: str | None = None
    device_time: datetime | None = None
    client_address: str | None = None


@dataclass(frozen=True)
class RequestContext:
    """Everything a use case needs to know about the caller, taken from the request only."""

    actor: Actor
    origin: Origin = field(default_factory=Origin)
