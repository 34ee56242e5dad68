"""Receipts for what a participant sends, and the evidence that the log holds it unchanged.

A receipt names the log, the event and the SHA-256 of the event's canonical body. Once the
event is in a signed checkpoint, its evidence is the body itself, the chain hash before it
and an RFC 6962 inclusion proof of its chain hash (the leaf) against that checkpoint: with
the log's verifier key, anyone can check it offline, without Hearth's code.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from infra.eventlog import proofs
from infra.eventlog.logs import Log

_FIRST_EVENT = text(
    "SELECT id, body, log_id FROM audit_events "
    "WHERE entity_type = :entity_type AND entity_id = :entity_id ORDER BY ingest LIMIT 1"
)
_EVENT = text(
    "SELECT e.body, e.log_id, c.seq, c.prev_hash FROM audit_events e "
    "LEFT JOIN audit_chain c ON c.ingest = e.ingest WHERE e.id = :id"
)


class NotYetSealed(proofs.ProofError):
    """The event is not yet in a signed checkpoint: ask again after the next seal."""


class ReceiptMismatch(proofs.ProofError):
    """The receipt names an event the log does not hold with that digest."""


@dataclass(frozen=True)
class Receipt:
    log: str  # the log's origin line
    event_id: uuid.UUID
    digest: str  # "sha256:<hex>" of the event's canonical body

    def document(self) -> dict[str, Any]:
        return {"log": self.log, "eventId": str(self.event_id), "digest": self.digest}


def digest_of(body: str) -> str:
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


async def receipt_for(
    session: AsyncSession, installation: uuid.UUID, entity_type: str, entity_id: uuid.UUID
) -> Receipt | None:
    """The receipt of the first event about an entity (a diary entry, a reading batch)."""
    row = (
        await session.execute(_FIRST_EVENT, {"entity_type": entity_type, "entity_id": entity_id})
    ).first()
    if row is None:
        return None
    return Receipt(Log(installation, row.log_id).origin, row.id, digest_of(row.body))


async def evidence(
    session: AsyncSession, installation: uuid.UUID, receipt: Receipt
) -> dict[str, Any]:
    """The inclusion proof of the receipt's event against the log's newest checkpoint."""
    row = (await session.execute(_EVENT, {"id": receipt.event_id})).first()
    log = Log.from_origin(receipt.log)
    if row is None or log is None or log != Log(installation, row.log_id):
        raise ReceiptMismatch("no event of that log has this id")
    if digest_of(row.body) != receipt.digest:
        raise ReceiptMismatch("the event's digest is not the receipt's")
    if row.seq is None:
        raise NotYetSealed("the event is not yet in the log's chain")
    try:
        proof = await proofs.inclusion(session, receipt.log, log.id, row.seq, None)
    except proofs.ProofError:
        raise NotYetSealed("the event is not yet in a signed checkpoint") from None
    return proof.document() | {
        "eventId": str(receipt.event_id),
        "digest": receipt.digest,
        "eventBody": row.body,
        "previousHash": base64.b64encode(row.prev_hash).decode(),
    }
