"""The hash chain: each event's hash covers its canonical record and the previous hash.

Records are serialised with RFC 8785 (JSON Canonicalization Scheme), so key order and
whitespace never change a hash. The canonical text is stored as the event's `body`, and the
chain hash is SHA-256(previous hash || body): verifying needs no re-serialisation.

Events from before per-study logs hashed `RECORD_COLUMNS` (their position included); events
since hash `EVENT_COLUMNS`, written before any position exists, so they name their log
instead and the chain (and Merkle tree) fixes their position.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

GENESIS = bytes(32)

# The columns a record's hash covers, in the order they are documented.
RECORD_COLUMNS = (
    "seq",
    "id",
    "recorded_at",
    "actor_kind",
    "actor_id",
    "actor_role",
    "study_id",
    "site_id",
    "participant_id",
    "entity_type",
    "entity_id",
    "action",
    "fields",
    "reason",
    "origin",
)
# What an event's body holds since per-study logs: no position, but the log it belongs to.
EVENT_COLUMNS = ("log", *RECORD_COLUMNS[1:])


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def record_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed part of an event row, as plain JSON values."""
    return {name: _plain(row[name]) for name in RECORD_COLUMNS}


def canonical(record: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of a record.

    Records hold strings, integers, booleans, nulls, lists and objects with ASCII keys, never
    floats (decimals and times are logged as strings). For such values RFC 8785 is exactly
    sorted keys, no whitespace, ECMAScript string escaping: what `json.dumps` produces with
    these options, about five times faster than the general implementation. Anything else
    (a float, an integer beyond 2**53, a non-ASCII key) takes the reference implementation.
    """
    if _plain_json(record):
        return json.dumps(
            record, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    return bytes(rfc8785.dumps(record))


_MAX_SAFE_INTEGER = 2**53 - 1


def _plain_json(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value) if not value.isascii() else True
    if isinstance(value, int):
        return -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain_json(v) for k, v in value.items())
    return False


def link(prev_hash: bytes, record: Mapping[str, Any]) -> bytes:
    """SHA-256 over the previous hash and the canonical record."""
    return link_body(prev_hash, canonical(record))


def link_body(prev_hash: bytes, body: bytes) -> bytes:
    """SHA-256 over the previous hash and an event's stored canonical body."""
    return hashlib.sha256(prev_hash + body).digest()


def event_body(values: Mapping[str, Any]) -> str:
    """The canonical body of a new event from its values (`EVENT_COLUMNS`)."""
    return canonical({name: _plain(values[name]) for name in EVENT_COLUMNS}).decode()
