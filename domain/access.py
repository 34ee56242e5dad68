"""The one authorization policy: which role may do what, on which study, site or participant."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from domain.actors import Actor, ActorKind, Grant, Role
from domain.errors import Forbidden, NotFound, Unauthenticated
from domain.ids import ParticipantId, SiteId, StudyId

T = TypeVar("T")


class Permission(StrEnum):
    STUDY_CREATE = "STUDY_CREATE"
    STUDY_READ = "STUDY_READ"
    SITE_CREATE = "SITE_CREATE"
    SITE_READ = "SITE_READ"
    PARTICIPANT_REGISTER = "PARTICIPANT_REGISTER"
    PARTICIPANT_READ = "PARTICIPANT_READ"
    PARTICIPANT_UPDATE = "PARTICIPANT_UPDATE"
    # Direct identifiers (name, contact, date of birth, address): site staff and the subject only.
    IDENTIFIERS_READ = "IDENTIFIERS_READ"
    PARTICIPANT_ERASE = "PARTICIPANT_ERASE"
    AUDIT_READ = "AUDIT_READ"
    KEYS_MANAGE = "KEYS_MANAGE"
    USER_MANAGE = "USER_MANAGE"
    STUDY_DESIGN = "STUDY_DESIGN"  # arms, visit definitions, questionnaires, schedules, consent
    CONSENT_SIGN = "CONSENT_SIGN"  # the participant, on their own consent
    RECORD_SIGN = "RECORD_SIGN"  # Part 11 signatures and consent countersignatures
    VISIT_MANAGE = "VISIT_MANAGE"
    QUERY_READ = "QUERY_READ"
    QUERY_RAISE = "QUERY_RAISE"  # and close
    QUERY_ANSWER = "QUERY_ANSWER"
    DATA_SUBMIT = "DATA_SUBMIT"  # diaries and readings, by the participant
    DATA_PROXY = "DATA_PROXY"  # site staff entering data for a participant, with a reason
    DATA_CORRECT = "DATA_CORRECT"  # data change requests on submitted data
    DEVICE_MANAGE = "DEVICE_MANAGE"
    EXPORT = "EXPORT"  # pseudonymised datasets of a whole study (sponsor side)
    STUDY_RETENTION = "STUDY_RETENTION"  # set a study's retention, close it (administrators)
    STUDY_PURGE = "STUDY_PURGE"  # shred a closed study's personal data after its retention
    WEBHOOK_MANAGE = "WEBHOOK_MANAGE"  # a study's webhook endpoints: register, see, replay


_STAFF_READ = frozenset(
    {
        Permission.STUDY_READ,
        Permission.SITE_READ,
        Permission.PARTICIPANT_READ,
        Permission.AUDIT_READ,
        Permission.QUERY_READ,
    }
)
_SITE_STAFF = _STAFF_READ | {
    Permission.PARTICIPANT_REGISTER,
    Permission.PARTICIPANT_UPDATE,
    Permission.IDENTIFIERS_READ,
    Permission.VISIT_MANAGE,
    Permission.QUERY_ANSWER,
    Permission.DATA_PROXY,
    Permission.DATA_CORRECT,
    Permission.DEVICE_MANAGE,
}
_CHECKERS = _STAFF_READ | {Permission.QUERY_RAISE}  # monitors and data managers: never write data

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    # Administrators run the system: they neither read who the participants are nor enter,
    # correct, query or sign clinical data.
    Role.ADMIN: frozenset(Permission)
    - {
        Permission.IDENTIFIERS_READ,
        Permission.CONSENT_SIGN,
        Permission.DATA_SUBMIT,
        Permission.DATA_PROXY,
        Permission.DATA_CORRECT,
        Permission.RECORD_SIGN,
        Permission.QUERY_RAISE,
        Permission.QUERY_ANSWER,
    },
    Role.COORDINATOR: _SITE_STAFF | {Permission.STUDY_DESIGN},
    Role.INVESTIGATOR: _SITE_STAFF | {Permission.RECORD_SIGN},
    Role.MONITOR: _CHECKERS,
    Role.DATA_MANAGER: _CHECKERS | {Permission.EXPORT, Permission.WEBHOOK_MANAGE},
    Role.PARTICIPANT: frozenset(
        {
            Permission.PARTICIPANT_READ,
            Permission.IDENTIFIERS_READ,
            Permission.CONSENT_SIGN,
            Permission.DATA_SUBMIT,
        }
    ),
    Role.SYSTEM: frozenset(Permission),
    Role.ANONYMOUS: frozenset(),
}

# A grant on one site still lets its holder see the study that site belongs to, and lets a
# coordinator build the study's design (arms, visits, questionnaires, consent documents).
_STUDY_WIDE_FOR_SITE_GRANTS = frozenset({Permission.STUDY_READ, Permission.STUDY_DESIGN})


@dataclass(frozen=True)
class Scope:
    """What an action touches. Empty means the whole installation."""

    study_id: StudyId | None = None
    site_id: SiteId | None = None
    participant_id: ParticipantId | None = None


GLOBAL = Scope()


def _covers(grant: Grant, actor: Actor, permission: Permission, scope: Scope) -> bool:
    if permission not in ROLE_PERMISSIONS[grant.role]:
        return False
    if grant.role is Role.PARTICIPANT:
        return scope.participant_id is not None and scope.participant_id == actor.id
    if grant.study_id is None:
        return True
    if grant.study_id != scope.study_id:
        return False
    if grant.site_id is None or grant.site_id == scope.site_id:
        return True
    return scope.site_id is None and permission in _STUDY_WIDE_FOR_SITE_GRANTS


def granting(actor: Actor, permission: Permission, scope: Scope) -> Grant | None:
    """The first grant that allows the action, or None."""
    return next((g for g in actor.grants if _covers(g, actor, permission, scope)), None)


def require(actor: Actor, permission: Permission, scope: Scope = GLOBAL) -> Grant:
    """The grant that allows the action; raises when none does. Its role goes into the audit."""
    if actor.kind is ActorKind.ANONYMOUS:
        raise Unauthenticated
    grant = granting(actor, permission, scope)
    if grant is None:
        raise Forbidden
    return grant


def require_somewhere(actor: Actor, permission: Permission) -> None:
    """For searches: the caller must hold the permission on some scope; rows are then filtered."""
    if actor.kind is ActorKind.ANONYMOUS:
        raise Unauthenticated
    if not any(permission in ROLE_PERMISSIONS[g.role] for g in actor.grants):
        raise Forbidden


def allows(actor: Actor, permission: Permission, scope: Scope = GLOBAL) -> bool:
    return granting(actor, permission, scope) is not None


# Fields that identify a person, directly or through a device they hold, by entity type. One
# rule reads them all: IDENTIFIERS_READ on the object's scope (the participant and their site
# staff). GraphQL fields (api/policy/), the audit trail, its CLI export and the sponsor
# exports (which never carry them) all follow this table.
IDENTIFIER_FIELDS: Mapping[str, frozenset[str]] = {
    "Participant": frozenset({"screening_number"}),
    "ParticipantContact": frozenset({"full_name", "email", "phone", "date_of_birth", "address"}),
    "Device": frozenset({"serial"}),
}


def field_permission(entity_type: str, field: str) -> Permission | None:
    """What reading this field needs beyond seeing its object; None for plain fields."""
    identifying = field in IDENTIFIER_FIELDS.get(entity_type, frozenset())
    return Permission.IDENTIFIERS_READ if identifying else None


def may_read_field(actor: Actor, entity_type: str, field: str, scope: Scope) -> bool:
    permission = field_permission(entity_type, field)
    return permission is None or allows(actor, permission, scope)


def require_field(actor: Actor, entity_type: str, field: str, scope: Scope) -> None:
    """Raise unless the actor may read this field of an object in this scope."""
    permission = field_permission(entity_type, field)
    if permission is not None:
        require(actor, permission, scope)


@dataclass(frozen=True)
class ReadFilter:
    """Which rows a list may return: everything, or those in these studies, sites or subjects."""

    everything: bool = False
    study_ids: frozenset[StudyId] = frozenset()
    site_ids: frozenset[SiteId] = frozenset()
    participant_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def nothing(self) -> bool:
        return not (self.everything or self.study_ids or self.site_ids or self.participant_ids)


def read_filter(actor: Actor, permission: Permission) -> ReadFilter:
    """Turn the actor's grants into a row filter that repositories apply in SQL."""
    grants = [g for g in actor.grants if permission in ROLE_PERMISSIONS[g.role]]
    if any(g.study_id is None and g.role is not Role.PARTICIPANT for g in grants):
        return ReadFilter(everything=True)
    studies = {g.study_id for g in grants if g.study_id and g.site_id is None}
    sites = {g.site_id for g in grants if g.site_id and g.role is not Role.PARTICIPANT}
    if permission in _STUDY_WIDE_FOR_SITE_GRANTS:
        studies |= {g.study_id for g in grants if g.study_id}
    participants = {actor.id for g in grants if g.role is Role.PARTICIPANT and actor.id}
    return ReadFilter(
        study_ids=frozenset(s for s in studies if s is not None),
        site_ids=frozenset(s for s in sites if s is not None),
        participant_ids=frozenset(participants),
    )


def visible(
    actor: Actor, permission: Permission, entity: T | None, scope: Callable[[T], Scope], what: str
) -> T:
    """For lookups by id: "missing" and "not yours" answer alike, so ids cannot be probed."""
    if actor.kind is ActorKind.ANONYMOUS:
        raise Unauthenticated
    if entity is None or not allows(actor, permission, scope(entity)):
        raise NotFound(what)
    return entity
