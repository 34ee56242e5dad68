"""The hash chain: each event's hash covers its canonical record and the previous hash.

Records are serialised with RFC 8785 (JSON Canonicalization Scheme), so key order and
whitespace never change a hash, and the database's own JSON normalisation is harmless.
"""

from __future__ import annotations

import hashlib
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
    return bytes(rfc8785.dumps(record))


def link(prev_hash: bytes, record: Mapping[str, Any]) -> bytes:
    """SHA-256 over the previous hash and the canonical record."""
    return hashlib.sha256(prev_hash + canonical(record)).digest()
