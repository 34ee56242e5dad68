"""The cost of an operation, from the document and the variables, before anything runs."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from api.cost import operation_cost
from api.documents import choose
from api.schema import build_schema

SCHEMA = build_schema(production=False)._schema
CAP = 10_000_000

PARTICIPANTS = """
query($first: Int) { node(id: "x") { ... on Site {
  participants(first: $first) { edges { node { id
    diaryEntries(first: 100) { edges { node { id } } }
  } } pageInfo { hasNextPage } }
} } }"""


def cost(query: str, variables: dict[str, Any] | None = None, cap: int = CAP) -> int:
    return operation_cost(SCHEMA, choose(parse(query), None), variables, cap)


def test_scalars_and_typename_are_free() -> None:
    assert cost("{ __typename }") == 0
    assert cost("{ viewer { kind id } }") == 1
    assert cost("{ __schema { types { name fields { name } } } }") == 0


def test_pages_multiply_what_they_hold() -> None:
    # node, participants, its edges list and pageInfo: 4; then per participant 1 and its
    # entries: the connection 1, its edges list 1, and 100 entries
    per_participant = 1 + (1 + 1 + 100)
    assert cost(PARTICIPANTS, {"first": 1}) == 4 + per_participant
    assert cost(PARTICIPANTS, {"first": 50}) == 4 + 50 * per_participant
    assert cost(PARTICIPANTS) == 4 + 20 * per_participant  # the default page
    assert cost(PARTICIPANTS, {"first": 10_000}) == 4 + 100 * per_participant  # at most 100


def test_last_counts_like_first() -> None:
    query = PARTICIPANTS.replace("first: $first", "last: 3")
    assert cost(query) == 4 + 3 * (1 + (1 + 1 + 100))


def test_lists_that_are_not_paged_count_ten_times() -> None:
    assert cost("{ studies { id sites { id devices { id } } } }") == 1 + 10 * (1 + 10 * 1)


def test_fragments_and_aliases_count_every_time_they_are_used() -> None:
    spread = "{ a: studies { ...S } b: studies { ...S } } fragment S on Study { sites { id } }"
    assert cost(spread) == 2 * (1 + 10 * 1)


def test_fragment_bombs_are_counted_cheaply_and_stop_at_the_cap() -> None:
    levels = ["fragment F0 on Study { sites { id } }"]
    for n in range(1, 40):
        twice = f"a: sites {{ study {{ ...F{n - 1} }} }} b: sites {{ study {{ ...F{n - 1} }} }}"
        levels.append(f"fragment F{n} on Study {{ {twice} }}")
    bomb = "{ studies { ...F39 } } " + " ".join(levels)
    assert cost(bomb, cap=1000) == 1001


@pytest.mark.parametrize(
    "broken",
    [
        "{ nope { id } }",
        "{ studies { ...Missing } }",
        "{ studies { ...A } } fragment A on Study { ...A }",
        "{ node(id: 1) { ... on Nope { id } } }",
    ],
)
def test_invalid_documents_do_not_break_the_count(broken: str) -> None:
    assert cost(broken) >= 0
