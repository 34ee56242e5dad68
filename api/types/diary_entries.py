"""GraphQL types for submitted diary entries as they are read, with their change history."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.relay import Connection, Node, instant, page_request, to_global_id
from api.types.receipts import ReceiptType, receipt_of
from api.types.signatures import SignatureType, signatures_of
from domain.corrections import DataChangeRequest
from domain.diaries import (
    DiaryEntry,
    EntryStatus,
)
from domain.errors import NotFound
from domain.ids import ParticipantId
from domain.schedules import Timeliness
from domain.services import diaries as cases

EntryStatusType = strawberry.enum(EntryStatus, name="DiaryEntryStatus")
TimelinessType = strawberry.enum(Timeliness, name="Timeliness")


@strawberry.type(name="DiaryEntry", description="A submitted ePRO diary entry.")
class DiaryEntryType(Node):
    occurrence_key: str
    due_at: datetime
    questionnaire_code: str
    questionnaire_version: int
    content_hash: str
    answers: JSON = strawberry.field(description="Structured answers by item code.")
    completed_at: datetime = strawberry.field(description="The device's clock, with its offset.")
    received_at: datetime = strawberry.field(description="Server receipt time (UTC).")
    timeliness: Timeliness
    status: EntryStatus
    quarantine_code: str | None
    clock_skewed: bool
    consent_superseded: bool = strawberry.field(
        description="Completed under a consent version that has since been replaced."
    )
    version: int
    entity: strawberry.Private[DiaryEntry]

    @classmethod
    def of(cls, e: DiaryEntry) -> DiaryEntryType:
        return cls(
            id=to_global_id("DiaryEntry", e.id),
            occurrence_key=e.occurrence_key,
            due_at=e.due_at,
            questionnaire_code=e.questionnaire_code,
            questionnaire_version=e.questionnaire_version,
            content_hash=e.content_hash,
            answers=JSON(dict(e.answers)),
            completed_at=e.completed_at,
            received_at=e.received_at,
            timeliness=e.timeliness,
            status=e.status,
            quarantine_code=e.quarantine_code.value if e.quarantine_code else None,
            clock_skewed=e.clock_skewed,
            consent_superseded=e.consent_superseded,
            version=e.version,
            entity=e,
        )

    @strawberry.field(
        description="The entry's receipt in the study's log: ask for its inclusion proof."
    )
    async def receipt(self, info: Info) -> ReceiptType | None:
        return await receipt_of(info, "DiaryEntry", self.entity.id)

    @strawberry.field(description="Free-text answers: the participant and their site staff only.")
    def free_text(self, info: Info) -> JSON | None:
        return JSON(cases.free_text(info.context.caller, self.entity))

    @strawberry.field
    async def signatures(self, info: Info) -> list[SignatureType]:
        return await signatures_of(info, "DiaryEntry", self.entity.id)

    @strawberry.field(description="Corrections by site staff, oldest first.")
    async def change_requests(self, info: Info) -> list[DataChangeRequestType]:
        found = await cases.change_requests(
            uow=info.context.services.uow(), ctx=info.context.caller, entry=self.entity
        )
        return [DataChangeRequestType.of(r) for r in found]


@strawberry.type(name="DataChangeRequest")
class DataChangeRequestType:
    id: strawberry.ID
    items: list[str] = strawberry.field(description="Item codes whose answers changed.")
    reason: str | None = strawberry.field(
        description="Why; null for readers who may not see free text about the participant."
    )
    requested_by: strawberry.ID
    applied_at: datetime

    @classmethod
    def of(cls, r: DataChangeRequest) -> DataChangeRequestType:
        return cls(
            id=to_global_id("DataChangeRequest", r.id),
            items=list(r.items),
            reason=r.reason,
            requested_by=to_global_id("StaffUser", r.requested_by),
            applied_at=r.applied_at,
        )


async def entries_of(
    info: Info,
    participant_id: ParticipantId,
    *,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[DiaryEntryType]:
    page = await cases.entries(
        uow=info.context.services.uow(),
        ctx=info.context.caller,
        participant_id=participant_id,
        request=page_request(first, after, "entry", instant, uuid.UUID, last=last, before=before),
    )
    return Connection[DiaryEntryType].of(
        page, DiaryEntryType.of, lambda e: (e.due_at.isoformat(), str(e.id)), "entry"
    )


async def entry_by_id(info: Info, raw: uuid.UUID) -> DiaryEntryType | None:
    try:
        found = await cases.get_entry(
            uow=info.context.services.uow(), ctx=info.context.caller, entry_id=raw
        )
    except NotFound:
        return None
    return DiaryEntryType.of(found)
