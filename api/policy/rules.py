"""The vocabulary of the field policy: kinds of rule and how each is written."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain import access
from domain.access import Permission


class Kind(StrEnum):
    PUBLIC = "PUBLIC"  # anyone, signed in or not (signing in, enrolment, refresh, viewer)
    SIGNED_IN = "SIGNED_IN"  # any signed-in caller, about themselves (logout, own password)
    GUARDED = "GUARDED"  # the permission on the object's scope (study, site, participant)
    PARENT = "PARENT"  # a plain field: visible exactly when the object holding it is


@dataclass(frozen=True)
class Rule:
    kind: Kind
    permissions: tuple[Permission, ...] = ()  # all of them, on the object's scope
    any_of: bool = False  # one of them is enough (e.g. the participant, or staff for them)
    # A list whose items are left out unless the permission holds on each: never refused.
    # Every other guarded field of an object is refused on its own (null plus an error for
    # that field), so it must be nullable whenever a role that sees the object may lack it.
    per_item: bool = False


PUBLIC = Rule(Kind.PUBLIC)
SIGNED_IN = Rule(Kind.SIGNED_IN)
PARENT = Rule(Kind.PARENT)


def guarded(*permissions: Permission) -> Rule:
    return Rule(Kind.GUARDED, permissions)


def either(*permissions: Permission) -> Rule:
    return Rule(Kind.GUARDED, permissions, any_of=True)


def each(*permissions: Permission) -> Rule:
    """A list showing only the items the permissions allow."""
    return Rule(Kind.GUARDED, permissions, per_item=True)


def plain(*names: str) -> dict[str, Rule]:
    return dict.fromkeys(names, PARENT)


def identifier(entity_type: str, field: str) -> Rule:
    """A field that identifies a person: the rule `domain/access.py` keeps for it."""
    permission = access.field_permission(entity_type, field)
    if permission is None:
        raise ValueError(f"{entity_type}.{field} is not an identifier in domain/access.py")
    return guarded(permission)
