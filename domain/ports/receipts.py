"""Port for receipts: what the event log says about a submission, and proves."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from domain.access import Scope


@dataclass(frozen=True)
class Receipt:
    """What a participant keeps for a submission: the log, the event, the event's digest."""

    log: str  # the log's origin line
    event_id: uuid.UUID
    digest: str  # "sha256:<hex>" of the event's canonical body


class ReceiptLog(Protocol):
    async def receipt(self, entity_type: str, entity_id: uuid.UUID) -> Receipt | None:
        """The receipt of the first event about an entity (a diary entry, a reading batch)."""
        ...

    async def scope(self, event_id: uuid.UUID) -> Scope | None:
        """Whose event it is (study, site, participant); None if there is no such event."""
        ...

    async def evidence(self, receipt: Receipt) -> Mapping[str, Any]:
        """The inclusion proof document; DomainError RECEIPT_NOT_SEALED while the event is
        in no signed checkpoint yet, NOT_FOUND if the log holds no such event and digest."""
        ...

    async def verifier_key(self, log: str) -> str | None:
        """The signed-note verifier key of the log named by an origin line (None: not ours)."""
        ...
