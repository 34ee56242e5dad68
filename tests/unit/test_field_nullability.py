"""A field some role may be refused is nullable, so a refusal nulls that field, not its object.

GraphQL nulls the nearest nullable parent of a field that fails: a non-null field refused to
a monitor would take the whole DiaryEntry (or Device, or Participant) with it. From the
policy table and `domain/access.py` this finds every guarded field that some role who sees
the object may still be refused, and checks the schema lets it be null.
"""

from __future__ import annotations

import uuid

from graphql import GraphQLNonNull, GraphQLObjectType

from api.policy import FIELD_RULES, Kind, Rule
from api.schema import build_schema
from domain import access
from domain.access import Permission, Scope
from domain.actors import Actor, ActorKind, Grant, Role
from domain.ids import ParticipantId, SiteId, StudyId

STUDY, SITE, PERSON = StudyId(uuid.uuid4()), SiteId(uuid.uuid4()), ParticipantId(uuid.uuid4())

# What makes an object of each type visible, and the scope such an object sits in.
SEEN_WITH: dict[str, tuple[Permission | None, Scope]] = {
    "Study": (Permission.STUDY_READ, Scope(STUDY)),
    "Site": (Permission.SITE_READ, Scope(STUDY, SITE)),
    "Participant": (Permission.PARTICIPANT_READ, Scope(STUDY, SITE, PERSON)),
    "Visit": (Permission.PARTICIPANT_READ, Scope(STUDY, SITE, PERSON)),
    "DiaryEntry": (Permission.PARTICIPANT_READ, Scope(STUDY, SITE, PERSON)),
    "Device": (Permission.SITE_READ, Scope(STUDY, SITE)),
    "Viewer": (None, Scope(STUDY, SITE, PERSON)),  # everyone has a viewer
    "AdverseEvent": (Permission.PARTICIPANT_READ, Scope(STUDY, SITE, PERSON)),
}


def _actors() -> list[Actor]:
    staff = [
        Actor(ActorKind.STAFF, uuid.uuid4(), (Grant(role, STUDY, SITE),))
        for role in (Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR)
    ]
    return [
        *staff,
        Actor(ActorKind.STAFF, uuid.uuid4(), (Grant(Role.ADMIN),)),
        Actor(ActorKind.STAFF, uuid.uuid4(), (Grant(Role.DATA_MANAGER, STUDY),)),
        Actor(ActorKind.PARTICIPANT, PERSON, (Grant(Role.PARTICIPANT, STUDY, SITE),)),
    ]


def _granted(actor: Actor, rule: Rule, scope: Scope) -> bool:
    held = [access.allows(actor, p, scope) for p in rule.permissions]
    return any(held) if rule.any_of else all(held)


def _refusable(type_name: str, rule: Rule) -> list[str]:
    """The kinds of actor who see an object of the type but may be refused the field."""
    seen_with, scope = SEEN_WITH[type_name]
    return [
        str(actor.grants[0].role)
        for actor in _actors()
        if (seen_with is None or access.allows(actor, seen_with, scope))
        and not _granted(actor, rule, scope)
    ]


def test_every_field_a_role_may_be_refused_is_nullable() -> None:
    schema = build_schema(production=False)._schema
    wrong = []
    for type_name, rules in FIELD_RULES.items():
        if type_name in ("Query", "Mutation", "Subscription"):
            continue
        graphql_type = schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        for field_name, rule in rules.items():
            refusing = rule.kind is Kind.GUARDED and not rule.per_item
            refused = _refusable(type_name, rule) if refusing else []
            if refused and isinstance(graphql_type.fields[field_name].type, GraphQLNonNull):
                wrong.append(f"{type_name}.{field_name}: non-null, refused to {refused}")
    assert not wrong, "\n".join(wrong)


def test_every_guarded_object_type_says_how_it_is_seen() -> None:
    guarded = {
        t
        for t, rules in FIELD_RULES.items()
        if t not in ("Query", "Mutation", "Subscription")
        and any(r.kind is Kind.GUARDED for r in rules.values())
    }
    assert guarded <= set(SEEN_WITH), guarded - set(SEEN_WITH)
