"""GraphQL for receipts: what a submission returns, its inclusion proof once sealed, and
the log's public key, so anyone the participant trusts can check it offline."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import strawberry

from api.context import Info
from domain.errors import DomainError, ErrorCode
from domain.ports.receipts import Receipt
from domain.services import receipts as cases


@strawberry.type(
    name="Receipt",
    description="Keep it: the log, the event and the SHA-256 of the event's canonical body.",
)
class ReceiptType:
    log: str = strawberry.field(description="The log's origin line (checkpoints name it).")
    event_id: strawberry.ID
    digest: str = strawberry.field(description='"sha256:<hex>" of the event body.')

    @classmethod
    def of(cls, r: Receipt) -> ReceiptType:
        return cls(log=r.log, event_id=strawberry.ID(str(r.event_id)), digest=r.digest)


@strawberry.input
class ReceiptInput:
    log: str
    event_id: strawberry.ID
    digest: str


@strawberry.type(
    name="InclusionProof",
    description="RFC 6962 inclusion of the event's chain hash (the leaf: SHA-256 of "
    "previousHash and eventBody) in the tree of a signed checkpoint (c2sp.org signed note).",
)
class InclusionProofType:
    log: str
    event_id: strawberry.ID
    digest: str
    event_body: str = strawberry.field(description="The canonical event body, as hashed.")
    previous_hash: str = strawberry.field(description="The chain hash before it (base64).")
    leaf_index: int
    tree_size: int
    root_hash: str = strawberry.field(description="base64")
    proof: list[str] = strawberry.field(description="The audit path, base64, leaf to root.")
    checkpoint: str = strawberry.field(description="The signed checkpoint note.")

    @classmethod
    def of(cls, d: Mapping[str, Any]) -> InclusionProofType:
        return cls(
            log=str(d["log"]),
            event_id=strawberry.ID(str(d["eventId"])),
            digest=str(d["digest"]),
            event_body=str(d["eventBody"]),
            previous_hash=str(d["previousHash"]),
            leaf_index=int(d["leafIndex"]),
            tree_size=int(d["treeSize"]),
            root_hash=str(d["rootHash"]),
            proof=[str(p) for p in d["proof"]],
            checkpoint=str(d["checkpoint"]),
        )


async def receipt_of(info: Info, entity_type: str, entity_id: uuid.UUID) -> ReceiptType | None:
    found = await info.context.services.receipts.receipt(entity_type, entity_id)
    return None if found is None else ReceiptType.of(found)


def _receipt(given: ReceiptInput) -> Receipt:
    try:
        event_id = uuid.UUID(str(given.event_id))
    except ValueError:
        raise DomainError(ErrorCode.INVALID_ID, "Malformed id.", field="event_id") from None
    return Receipt(given.log, event_id, given.digest)


@strawberry.type
class ReceiptQueries:
    @strawberry.field(
        description="The receipt's inclusion proof against the log's newest signed checkpoint. "
        "Error RECEIPT_NOT_SEALED until the event is sealed; NOT_FOUND if it is not yours."
    )
    async def inclusion_proof(self, info: Info, receipt: ReceiptInput) -> InclusionProofType:
        document = await cases.inclusion_proof(
            log=info.context.services.receipts, ctx=info.context.caller, receipt=_receipt(receipt)
        )
        return InclusionProofType.of(document)

    @strawberry.field(
        description="The public verifier key (signed-note format) of the log a receipt names."
    )
    async def receipt_log_key(self, info: Info, log: str) -> str:
        return await cases.verifier_key(log=info.context.services.receipts, origin=log)
