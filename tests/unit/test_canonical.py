"""Canonical hashing (RFC 8785): key order and whitespace never change an event's hash."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785

from infra.eventlog.chain import GENESIS, RECORD_COLUMNS, canonical, link, record_of


def _row() -> dict[str, object]:
    return {
        "seq": 7,
        "id": uuid.UUID("01a20165-0000-7000-8000-000000000001"),
        "recorded_at": datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        "actor_kind": "STAFF",
        "actor_id": None,
        "actor_role": "ADMIN",
        "study_id": None,
        "site_id": None,
        "participant_id": None,
        "entity_type": "Study",
        "entity_id": uuid.UUID("01a20165-0000-7000-8000-000000000002"),
        "action": "created",
        "fields": [{"field": "title", "old": None, "new": "Ünïcødé ✓"}],
        "reason": {"text": "why"},
        "origin": {"requestId": "r", "appVersion": None},
    }


def test_key_order_and_whitespace_do_not_matter() -> None:
    row = _row()
    shuffled = dict(reversed(list(row.items())))
    assert link(GENESIS, record_of(row)) == link(GENESIS, record_of(shuffled))
    spaced = json.loads(json.dumps(record_of(row), indent=4, sort_keys=False))
    assert canonical(spaced) == canonical(record_of(row))
    assert b" " not in canonical({"b": 1, "a": [1, 2]})
    assert canonical({"b": 1, "a": 2}) == b'{"a":2,"b":1}'


def test_time_zones_are_normalised_to_utc() -> None:
    row = _row()
    elsewhere = row | {
        "recorded_at": datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    }
    assert (
        record_of(row)["recorded_at"]
        == record_of(elsewhere)["recorded_at"]
        == "2026-03-29T01:30:00.000000+00:00"
    )


def test_every_column_and_the_previous_hash_count() -> None:
    row = _row()
    base = link(GENESIS, record_of(row))
    for column in RECORD_COLUMNS:
        changed = row | {column: "something else"}
        assert link(GENESIS, record_of(changed)) != base, column
    assert link(b"\x01" * 32, record_of(row)) != base


def _random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 3 else 5)
    alphabet = "aZ09 \"\\/\b\f\n\r\t\x00\x1f\x7féß€𝄞\u2028\u2029日本<>&'"
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randrange(-(2**53) + 1, 2**53)
    if kind in (3, 4):
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["field", "old", "new", "a", "B", "_x", "zz", "A1", "requestId", "personal"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_fast_path_is_byte_identical_to_rfc8785() -> None:
    rng = random.Random(8785)
    for _ in range(3000):
        value: dict[str, Any] = {"record": _random_value(rng), "seq": rng.randrange(10**9)}
        assert canonical(value) == bytes(rfc8785.dumps(value)), value


def test_values_outside_the_fast_path_use_the_reference() -> None:
    for value in ({"x": 1.5}, {"é": 1, "e": 2}, {"x": [0.1, 2]}):
        assert canonical(value) == bytes(rfc8785.dumps(value))
    with pytest.raises(rfc8785.IntegerDomainError):  # not representable exactly: refused
        canonical({"x": 2**60})
