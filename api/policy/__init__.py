"""Which rule guards every GraphQL field: the declaration the authorization matrix checks.

Decisions are made in one place, `domain/access.py`, by the use cases each resolver calls.
This table says, for every field of the schema, which of those decisions applies, so a test
can run every role against every field and compare what the API does with what the policy
says. A field missing from this table fails that test: new fields need a rule.

The rules are kept per kind of object: roots (queries, mutations, the subscription),
studies, participants and their records, people and what is recorded of them; the types
that only carry a guarded field's result are in `carriers`.
"""

from __future__ import annotations

from api.policy.carriers import CARRIERS
from api.policy.participants import PARTICIPANT_RULES
from api.policy.people import PEOPLE_RULES
from api.policy.roots import ROOT_RULES
from api.policy.rules import (
    PARENT,
    PUBLIC,
    SIGNED_IN,
    Kind,
    Rule,
    each,
    either,
    guarded,
    identifier,
)
from api.policy.studies import STUDY_RULES

FIELD_RULES: dict[str, dict[str, Rule]] = (
    ROOT_RULES | STUDY_RULES | PARTICIPANT_RULES | PEOPLE_RULES
)
SOCKET_FIELDS = frozenset({"Subscription.changes"})

__all__ = [
    "CARRIERS",
    "FIELD_RULES",
    "PARENT",
    "PUBLIC",
    "SIGNED_IN",
    "SOCKET_FIELDS",
    "Kind",
    "Rule",
    "each",
    "either",
    "guarded",
    "identifier",
]
