"""The receipt port on the event log: receipts, their scope, proofs and the log's key."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.access import Scope
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ParticipantId, SiteId, StudyId
from domain.ports.receipts import Receipt
from infra.eventlog import receipts
from infra.eventlog.logs import Log
from infra.eventlog.service import EventLog

_SCOPE = text("SELECT study_id, site_id, participant_id FROM audit_events WHERE id = :id")


class EventLogReceipts:
    def __init__(self, log: EventLog, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._log = log
        self._sessions = sessions

    async def receipt(self, entity_type: str, entity_id: uuid.UUID) -> Receipt | None:
        found = await self._log.receipt(entity_type, entity_id)
        return None if found is None else Receipt(found.log, found.event_id, found.digest)

    async def scope(self, event_id: uuid.UUID) -> Scope | None:
        async with self._sessions() as session:
            row = (await session.execute(_SCOPE, {"id": event_id})).first()
        if row is None:
            return None
        return Scope(
            StudyId(row.study_id) if row.study_id else None,
            SiteId(row.site_id) if row.site_id else None,
            ParticipantId(row.participant_id) if row.participant_id else None,
        )

    async def evidence(self, receipt: Receipt) -> Mapping[str, Any]:
        asked = receipts.Receipt(receipt.log, receipt.event_id, receipt.digest)
        try:
            return await self._log.receipt_evidence(asked)
        except receipts.NotYetSealed:
            raise DomainError(
                ErrorCode.RECEIPT_NOT_SEALED,
                "Not yet in a signed checkpoint; ask again after the next one.",
            ) from None
        except receipts.ReceiptMismatch:
            raise NotFound("Receipt") from None

    async def verifier_key(self, log: str) -> str | None:
        named = Log.from_origin(log)
        if named is None or named.installation != await self._log.installation():
            return None
        return self._log.verifier_key(named)
