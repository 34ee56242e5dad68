"""Personal values in events: a salted commitment in the log, the sealed value beside it.

The commitment is SHA-256(salt || canonical JSON of the value). The salt travels sealed with
the value, so once the value is redacted or its key destroyed, the commitment reveals nothing,
and while the value is readable, verification can prove it is the one that was logged.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from infra.eventlog.chain import canonical

SALT_BYTES = 16
TABLE = "audit_sealed_values"
REASON_FIELD = "_reason"


@dataclass(frozen=True)
class SealedValue:
    event_id: uuid.UUID
    field: str
    side: str  # "old" or "new"
    owner_id: uuid.UUID
    plaintext: str  # salt (hex) + ":" + canonical JSON of the value; sealed before storage

    @property
    def column(self) -> str:
        return f"{self.field}:{self.side}"


def commit_to(value: Any) -> tuple[str, str]:
    """(commitment, plaintext to seal) for one personal value."""
    salt = os.urandom(SALT_BYTES).hex()
    body = canonical({"v": value}).decode()
    digest = hashlib.sha256(bytes.fromhex(salt) + body.encode()).hexdigest()
    return f"sha256:{digest}", f"{salt}:{body}"


def reveal(plaintext: str) -> tuple[str, Any]:
    """(commitment, value) recomputed from an opened sealed value."""
    salt, _, body = plaintext.partition(":")
    digest = hashlib.sha256(bytes.fromhex(salt) + body.encode()).hexdigest()
    return f"sha256:{digest}", json.loads(body)["v"]


def redaction_ref(event_id: uuid.UUID, field: str, side: str) -> str:
    """How a redaction event names a sealed value it cleared."""
    return f"{event_id}/{field}/{side}"
