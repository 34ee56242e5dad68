"""GraphQL types and mutations for devices and their readings."""

from __future__ import annotations

import contextlib
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import Connection, Node, from_global_id, instant, page_request, to_global_id
from api.types.receipts import ReceiptType, receipt_of
from domain.devices import DailySummary, Device, ReadingStatus, StoredReading
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import DeviceId, ParticipantId, SiteId
from domain.intake import Outcome
from domain.readings import ReadingKind
from domain.reason_codes import ReasonCode
from domain.records import ReadingFilter
from domain.services import devices as cases
from domain.services import readings as reading_cases
from domain.services.readings import Ingested

ReadingKindType = strawberry.enum(ReadingKind, name="ReadingKind")
ReadingOutcomeType = strawberry.enum(Outcome, name="ReadingOutcome")
ReadingStatusType = strawberry.enum(ReadingStatus, name="ReadingStatus")
MAX_GRAPHQL_READINGS = 1000  # larger backlogs go to POST /ingest/readings


@strawberry.type(name="Device")
class DeviceType(Node):
    kinds: list[ReadingKind]
    model: str
    registered_at: datetime
    participant_id: strawberry.ID | None
    assigned_at: datetime | None
    version: int
    entity: strawberry.Private[Device]

    @strawberry.field(
        description="A device identifier (HIPAA): site staff only; FORBIDDEN for others."
    )
    def serial(self, info: Info) -> str | None:
        return cases.serial_of(info.context.caller, self.entity)

    @classmethod
    def of(cls, d: Device) -> DeviceType:
        return cls(
            id=to_global_id("Device", d.id),
            kinds=list(d.kinds),
            model=d.model,
            entity=d,
            registered_at=d.registered_at,
            participant_id=to_global_id("Participant", d.participant_id)
            if d.participant_id
            else None,
            assigned_at=d.assigned_at,
            version=d.version,
        )


@strawberry.type
class ReadingComponent:
    name: str
    value: str = strawberry.field(
        description="Normalised to the canonical UCUM unit (exact decimal)."
    )
    unit: str
    original_value: str = strawberry.field(description="As the device sent it.")
    original_unit: str


@strawberry.type(name="Reading")
class ReadingType:
    id: strawberry.ID
    kind: ReadingKind
    source_id: str
    device_id: strawberry.ID
    effective_start: datetime = strawberry.field(description="With the device's offset.")
    effective_end: datetime | None = strawberry.field(description="With the device's offset.")
    device_time: datetime | None = strawberry.field(
        description="The device's clock when it sent the reading, with its offset."
    )
    received_at: datetime
    clock_skewed: bool
    deleted_at: datetime | None
    components: list[ReadingComponent]
    status: ReadingStatus = strawberry.field(
        description="QUARANTINED: kept for the site to accept or reject; REJECTED on review."
    )
    quarantine_code: str | None = strawberry.field(
        description="Why it was quarantined (OUTSIDE_ASSIGNMENT, CONSENT_SUPERSEDED); kept."
    )
    consent_superseded: bool = strawberry.field(
        description="Taken under a consent version that has since been replaced."
    )
    reviewed_at: datetime | None

    @classmethod
    def of(cls, r: StoredReading) -> ReadingType:
        reading = r.reading
        return cls(
            id=to_global_id("Reading", r.id),
            kind=reading.kind,
            source_id=reading.source_id,
            device_id=to_global_id("Device", r.device_id),
            effective_start=reading.effective_start,
            effective_end=reading.effective_end,
            device_time=reading.device_time,
            received_at=r.received_at,
            clock_skewed=r.clock_skewed,
            deleted_at=r.deleted_at,
            status=r.status,
            quarantine_code=r.quarantine_code,
            consent_superseded=r.consent_superseded,
            reviewed_at=r.reviewed_at,
            components=[
                ReadingComponent(
                    name=n,
                    value=str(m.value),
                    unit=m.unit,
                    original_value=str(m.original_value),
                    original_unit=m.original_unit,
                )
                for n, m in sorted(reading.components.items())
            ],
        )


@strawberry.type(name="DailySummary")
class DailySummaryType:
    day: date = strawberry.field(description="In the participant's time zone.")
    component: str
    unit: str
    count: int
    minimum: str
    maximum: str
    mean: str

    @classmethod
    def of(cls, s: DailySummary) -> DailySummaryType:
        return cls(
            day=s.day,
            component=s.component,
            unit=s.unit,
            count=s.count,
            minimum=str(s.minimum),
            maximum=str(s.maximum),
            mean=str(s.mean),
        )


@strawberry.type(name="ReadingResult")
class ReadingResultType:
    index: int
    outcome: Outcome
    code: str | None
    field: str | None
    message: str | None
    reading_id: strawberry.ID | None


@strawberry.type
class SubmitReadingsSuccess:
    batch_id: str
    accepted: int
    quarantined: int
    duplicates: int
    rejected: int
    results: list[ReadingResultType]

    @strawberry.field(
        description="The batch's receipt in the study's log (null if nothing was stored)."
    )
    async def receipt(self, info: Info) -> ReceiptType | None:
        return await receipt_of(info, "ReadingBatch", uuid.UUID(self.batch_id))

    @classmethod
    def of(cls, done: Ingested) -> SubmitReadingsSuccess:
        return cls(
            batch_id=str(done.batch_id),
            accepted=done.count(Outcome.ACCEPTED),
            quarantined=done.count(Outcome.QUARANTINED),
            duplicates=done.count(Outcome.DUPLICATE),
            rejected=done.count(Outcome.REJECTED),
            results=[
                ReadingResultType(
                    index=i.index,
                    outcome=i.outcome,
                    code=i.code,
                    field=i.field,
                    message=i.message,
                    reading_id=to_global_id("Reading", i.reading_id) if i.reading_id else None,
                )
                for i in done.items
            ],
        )


@strawberry.input
class RegisterDeviceInput:
    site_id: strawberry.ID
    kinds: list[ReadingKind]
    model: str
    serial: str


@strawberry.input
class AssignDeviceInput:
    device_id: strawberry.ID
    participant_id: strawberry.ID


@strawberry.input
class UnassignDeviceInput:
    device_id: strawberry.ID
    reason: str


@strawberry.input(description="One reading in an Open mHealth shape.")
class ReadingInput:
    device_id: strawberry.ID
    kind: ReadingKind
    source_id: str = strawberry.field(description="The device's own id of the record (dedup key).")
    body: JSON = strawberry.field(
        description="The Open mHealth body, e.g. {heart_rate: {value, unit}, effective_time_frame}."
    )
    device_time: str | None = strawberry.field(
        default=None, description="Device clock now, ISO 8601 with offset."
    )


@strawberry.input
class SubmitReadingsInput:
    items: list[ReadingInput]


@strawberry.input
class DeleteReadingInput:
    reading_id: strawberry.ID
    reason: str
    reason_code: ReasonCode | None = strawberry.field(
        default=None,
        description="Why, coded (the study's list); OTHER when only the free text is sent.",
    )


@strawberry.type
class DeviceSuccess:
    device: DeviceType


@strawberry.type
class DeleteReadingSuccess:
    reading: ReadingType


DeviceResult = Annotated[DeviceSuccess | MutationError, strawberry.union("DeviceResult")]
SubmitReadingsResult = Annotated[
    SubmitReadingsSuccess | MutationError, strawberry.union("SubmitReadingsResult")
]
DeleteReadingResult = Annotated[
    DeleteReadingSuccess | MutationError, strawberry.union("DeleteReadingResult")
]


def device_item(raw: dict[str, Any]) -> dict[str, Any]:
    """Readings name their device by global id (GraphQL) or UUID (bulk files): use the UUID."""
    device = raw.get("deviceId")
    if isinstance(device, str):
        # a UUID already, or nonsense that the use case rejects as UNKNOWN_DEVICE
        with contextlib.suppress(DomainError):
            raw = {**raw, "deviceId": str(from_global_id(device, "Device")[1])}
    return raw


def _device_id(raw: strawberry.ID) -> DeviceId:
    return DeviceId(from_global_id(raw, "Device")[1])


async def devices_at(info: Info, site_id: SiteId) -> list[DeviceType]:
    found = await cases.at_site(
        uow=info.context.services.uow(), ctx=info.context.caller, site_id=site_id
    )
    return [DeviceType.of(d) for d in found]


async def readings_of(
    info: Info,
    participant_id: ParticipantId,
    filters: ReadingFilter,
    *,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[ReadingType]:
    page = await reading_cases.page(
        uow=info.context.services.uow(),
        ctx=info.context.caller,
        participant_id=participant_id,
        filters=filters,
        request=page_request(first, after, "reading", instant, uuid.UUID, last=last, before=before),
    )
    return Connection[ReadingType].of(
        page,
        ReadingType.of,
        lambda r: (r.reading.effective_start.isoformat(), str(r.id)),
        "reading",
    )


async def summaries_of(
    info: Info, participant_id: ParticipantId, kind: ReadingKind, first: date, last: date
) -> list[DailySummaryType]:
    found = await reading_cases.daily(
        uow=info.context.services.uow(),
        ctx=info.context.caller,
        participant_id=participant_id,
        kind=kind,
        first=first,
        last=last,
    )
    return [DailySummaryType.of(s) for s in found]


async def device_by_id(info: Info, raw: DeviceId) -> DeviceType | None:
    try:
        return DeviceType.of(
            await cases.get(uow=info.context.services.uow(), ctx=info.context.caller, device_id=raw)
        )
    except NotFound:
        return None


@strawberry.type
class DeviceMutations:
    @strawberry.mutation(description="Register a device at a site (site staff).")
    async def register_device(self, info: Info, input: RegisterDeviceInput) -> DeviceResult:
        async def run() -> DeviceSuccess:
            device = await cases.register(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                site_id=SiteId(from_global_id(input.site_id, "Site")[1]),
                kinds=tuple(ReadingKind(k) for k in input.kinds),
                model=input.model,
                serial=input.serial,
            )
            return DeviceSuccess(device=DeviceType.of(device))

        return await attempt(run)

    @strawberry.mutation(description="Assign a device to a participant of its site.")
    async def assign_device(self, info: Info, input: AssignDeviceInput) -> DeviceResult:
        async def run() -> DeviceSuccess:
            device = await cases.assign(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                device_id=_device_id(input.device_id),
                participant_id=ParticipantId(
                    from_global_id(input.participant_id, "Participant")[1]
                ),
            )
            return DeviceSuccess(device=DeviceType.of(device))

        return await attempt(run)

    @strawberry.mutation(description="Take a device back from its participant, with a reason.")
    async def unassign_device(self, info: Info, input: UnassignDeviceInput) -> DeviceResult:
        async def run() -> DeviceSuccess:
            device = await cases.unassign(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                device_id=_device_id(input.device_id),
                reason=input.reason,
            )
            return DeviceSuccess(device=DeviceType.of(device))

        return await attempt(run)

    @strawberry.mutation(
        description="Readings from the participant's app (up to 1000; bulk: POST /ingest/readings)."
    )
    async def submit_readings(self, info: Info, input: SubmitReadingsInput) -> SubmitReadingsResult:
        async def run() -> SubmitReadingsSuccess:
            if len(input.items) > MAX_GRAPHQL_READINGS:
                raise DomainError(
                    ErrorCode.VALIDATION_FAILED,
                    f"At most {MAX_GRAPHQL_READINGS} readings; use POST /ingest/readings.",
                    field="items",
                )
            items: list[object] = [
                device_item(
                    {
                        "deviceId": i.device_id,
                        "kind": ReadingKind(i.kind).value,
                        "sourceId": i.source_id,
                        "body": i.body,
                        **({"deviceTime": i.device_time} if i.device_time else {}),
                    }
                )
                for i in input.items
            ]
            done = await reading_cases.ingest(
                uow=info.context.services.uow(), ctx=info.context.caller, items=items
            )
            return SubmitReadingsSuccess.of(done)

        return await attempt(run)

    @strawberry.mutation(description="Delete a reading logically (site staff), with a reason.")
    async def delete_reading(self, info: Info, input: DeleteReadingInput) -> DeleteReadingResult:
        async def run() -> DeleteReadingSuccess:
            reading = await reading_cases.delete(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                reading_id=from_global_id(input.reading_id, "Reading")[1],
                reason=input.reason,
                code=input.reason_code,
            )
            return DeleteReadingSuccess(reading=ReadingType.of(reading))

        return await attempt(run)
