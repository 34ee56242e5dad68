"""GraphQL types and mutations for webhook endpoints, their deliveries and every try."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, cast

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.exposure import expose
from api.relay import Node, from_global_id, to_global_id
from domain.errors import Invalid, NotFound
from domain.ids import StudyId
from domain.services import webhooks as cases
from domain.services.webhooks import WebhookUnitOfWork
from domain.studies import Study
from domain.webhook_endpoints import (
    MAX_OVERLAP,
    AttemptRecord,
    Delivery,
    DeliveryStatus,
    WebhookEndpoint,
)
from domain.webhooks import EventType, Outcome

DeliveryStatusType = strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")
OutcomeType = strawberry.enum(Outcome, name="WebhookAttemptOutcome")
MAX_DELIVERIES = 100


def _uow(info: Info) -> WebhookUnitOfWork:
    return cast(WebhookUnitOfWork, info.context.services.uow())


@strawberry.type(name="WebhookAttempt", description="One try at sending one message.")
class WebhookAttemptType:
    number: int
    at: datetime
    status_code: int | None = strawberry.field(
        description="The receiver's HTTP status; null: no answer (refused, timed out)."
    )
    latency_ms: float
    error: str | None = strawberry.field(description="Why it failed; never the receiver's body.")
    outcome: Outcome
    next_try_at: datetime | None


@strawberry.type(
    name="WebhookDelivery", description="One event sent (or being sent) to one endpoint."
)
class WebhookDeliveryType:
    id: strawberry.ID
    event_id: strawberry.ID = strawberry.field(description="The audit event's id.")
    log_position: int = strawberry.field(description="The event's position in the study's log.")
    event_type: str
    message_id: str = strawberry.field(
        description="The `webhook-id` header: the same on every try and every replay."
    )
    replay: bool = strawberry.field(description="Sent again by replayWebhooks.")
    status: DeliveryStatus
    created_at: datetime
    next_try_at: datetime | None
    finished_at: datetime | None
    attempts: list[WebhookAttemptType] = strawberry.field(description="Every try, oldest first.")

    @classmethod
    def of(cls, delivery: Delivery, tries: list[AttemptRecord]) -> WebhookDeliveryType:
        return cls(
            id=strawberry.ID(str(delivery.id)),
            event_id=strawberry.ID(str(delivery.event_id)),
            log_position=delivery.log_position,
            event_type=delivery.event_type.value,
            message_id=delivery.message_id,
            replay=delivery.round > 0,
            status=delivery.status,
            created_at=delivery.created_at,
            next_try_at=delivery.next_try_at,
            finished_at=delivery.finished_at,
            attempts=[expose(WebhookAttemptType, t) for t in tries],
        )


@strawberry.type(
    name="WebhookEndpoint",
    description="Where a study's events are POSTed, signed per Standard Webhooks.",
)
class WebhookEndpointType(Node):
    url: str
    event_types: list[str]
    enabled: bool
    disabled_at: datetime | None
    disabled_because: str | None = strawberry.field(
        description="asked (disabled by a person) or failing (too many messages given up on)."
    )
    failed_in_a_row: int = strawberry.field(
        description="Messages given up on since the last delivered one."
    )
    created_at: datetime
    secret_rotated_at: datetime
    previous_secret_until: datetime | None = strawberry.field(
        description="Until then the secret before the last rotation signs too."
    )
    log_position: int = strawberry.field(
        description="The last position of the study's log handed out to this endpoint."
    )
    entity: strawberry.Private[WebhookEndpoint]

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookEndpointType:
        return expose(
            cls,
            endpoint,
            event_types=[t.value for t in endpoint.event_types],
            disabled_because=endpoint.disabled_because.value if endpoint.disabled_because else None,
            log_position=endpoint.cursor,
        )

    @strawberry.field(description="The latest deliveries, newest first, with every try.")
    async def deliveries(self, info: Info, first: int = 20) -> list[WebhookDeliveryType]:
        found, tries = await cases.deliveries(
            uow=_uow(info),
            ctx=info.context.caller,
            endpoint=self.entity,
            limit=max(1, min(first, MAX_DELIVERIES)),
        )
        return [WebhookDeliveryType.of(d, list(tries.get(d.id, ()))) for d in found]


async def endpoints_of(info: Info, study: Study) -> list[WebhookEndpointType]:
    found = await cases.of_study(uow=_uow(info), ctx=info.context.caller, study_id=study.id)
    return [WebhookEndpointType.of(e) for e in found]


async def endpoint_by_id(info: Info, raw: uuid.UUID) -> WebhookEndpointType | None:
    try:
        found = await cases.get(uow=_uow(info), ctx=info.context.caller, endpoint_id=raw)
    except NotFound:
        return None
    return WebhookEndpointType.of(found)


def _endpoint_id(raw: strawberry.ID) -> uuid.UUID:
    return from_global_id(raw, "WebhookEndpoint")[1]


@strawberry.input
class CreateWebhookEndpointInput:
    study_id: strawberry.ID
    url: str = strawberry.field(description="An absolute http:// or https:// URL.")
    event_types: list[str] = strawberry.field(
        description="Any of: " + ", ".join(t.value for t in EventType) + "."
    )


@strawberry.input
class UpdateWebhookEndpointInput:
    endpoint_id: strawberry.ID
    url: str | None = None
    event_types: list[str] | None = None


@strawberry.input
class SetWebhookEndpointEnabledInput:
    endpoint_id: strawberry.ID
    enabled: bool


@strawberry.input
class WebhookEndpointInput:
    endpoint_id: strawberry.ID


@strawberry.input
class RotateWebhookSecretInput:
    endpoint_id: strawberry.ID
    overlap_minutes: int = strawberry.field(
        default=24 * 60,
        description="How long the old secret still signs beside the new one (at most 7 days).",
    )


@strawberry.input
class ReplayWebhooksInput:
    endpoint_id: strawberry.ID
    from_position: int = strawberry.field(description="The study log's position to start at.")


@strawberry.type(description="The endpoint and its new secret: shown this once, never again.")
class WebhookSecretSuccess:
    endpoint: WebhookEndpointType
    secret: str = strawberry.field(description="whsec_…: verify signatures with it.")


@strawberry.type
class WebhookEndpointSuccess:
    endpoint: WebhookEndpointType


@strawberry.type
class DeleteWebhookEndpointSuccess:
    deleted_id: strawberry.ID


@strawberry.type
class ReplayWebhooksSuccess:
    endpoint: WebhookEndpointType
    queued: int = strawberry.field(description="Messages queued to be sent again.")
    last_position: int | None = strawberry.field(
        description="The last log position queued; more may follow from the next one "
        "(one call re-sends at most 1000 events)."
    )


SecretResult = Annotated[
    WebhookSecretSuccess | MutationError, strawberry.union("WebhookSecretResult")
]
EndpointResult = Annotated[
    WebhookEndpointSuccess | MutationError, strawberry.union("WebhookEndpointResult")
]
DeleteResult = Annotated[
    DeleteWebhookEndpointSuccess | MutationError, strawberry.union("DeleteWebhookEndpointResult")
]
ReplayResult = Annotated[
    ReplayWebhooksSuccess | MutationError, strawberry.union("ReplayWebhooksResult")
]


def _secret(made: cases.WithSecret) -> WebhookSecretSuccess:
    return WebhookSecretSuccess(endpoint=WebhookEndpointType.of(made.endpoint), secret=made.secret)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(
        description="Register an endpoint for a study's events (admins; data managers for "
        "their study). The secret is in the answer, and only there."
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> SecretResult:
        async def run() -> WebhookSecretSuccess:
            made = await cases.register(
                uow=_uow(info),
                ctx=info.context.caller,
                study_id=StudyId(from_global_id(input.study_id, "Study")[1]),
                url=input.url,
                event_types=input.event_types,
            )
            return _secret(made)

        return await attempt(run)

    @strawberry.mutation(description="Change an endpoint's URL or event types.")
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> EndpointResult:
        async def run() -> WebhookEndpointSuccess:
            endpoint = await cases.change(
                uow=_uow(info),
                ctx=info.context.caller,
                endpoint_id=_endpoint_id(input.endpoint_id),
                url=input.url,
                event_types=input.event_types,
            )
            return WebhookEndpointSuccess(endpoint=WebhookEndpointType.of(endpoint))

        return await attempt(run)

    @strawberry.mutation(
        description="Disable an endpoint (it receives nothing) or enable it again (it "
        "receives what happens from then on; replay sends what it missed)."
    )
    async def set_webhook_endpoint_enabled(
        self, info: Info, input: SetWebhookEndpointEnabledInput
    ) -> EndpointResult:
        async def run() -> WebhookEndpointSuccess:
            endpoint = await cases.set_enabled(
                uow=_uow(info),
                ctx=info.context.caller,
                endpoint_id=_endpoint_id(input.endpoint_id),
                enabled=input.enabled,
            )
            return WebhookEndpointSuccess(endpoint=WebhookEndpointType.of(endpoint))

        return await attempt(run)

    @strawberry.mutation(description="Delete an endpoint, its delivery log and its secrets.")
    async def delete_webhook_endpoint(
        self, info: Info, input: WebhookEndpointInput
    ) -> DeleteResult:
        async def run() -> DeleteWebhookEndpointSuccess:
            endpoint_id = _endpoint_id(input.endpoint_id)
            await cases.delete(uow=_uow(info), ctx=info.context.caller, endpoint_id=endpoint_id)
            return DeleteWebhookEndpointSuccess(
                deleted_id=to_global_id("WebhookEndpoint", endpoint_id)
            )

        return await attempt(run)

    @strawberry.mutation(
        description="A new secret signs from now on; the old one also signs until the overlap "
        "ends, so receivers can switch without losing messages."
    )
    async def rotate_webhook_secret(
        self, info: Info, input: RotateWebhookSecretInput
    ) -> SecretResult:
        async def run() -> WebhookSecretSuccess:
            if not 0 <= input.overlap_minutes <= MAX_OVERLAP.total_seconds() // 60:
                raise Invalid("overlapMinutes", "The overlap is between 0 minutes and 7 days.")
            made = await cases.rotate_secret(
                uow=_uow(info),
                ctx=info.context.caller,
                endpoint_id=_endpoint_id(input.endpoint_id),
                overlap=timedelta(minutes=input.overlap_minutes),
            )
            return _secret(made)

        return await attempt(run)

    @strawberry.mutation(
        description="Send the endpoint's events again from a log position, with the same "
        "webhook-id each, so receivers can deduplicate."
    )
    async def replay_webhooks(self, info: Info, input: ReplayWebhooksInput) -> ReplayResult:
        async def run() -> ReplayWebhooksSuccess:
            done = await cases.replay(
                uow=_uow(info),
                ctx=info.context.caller,
                endpoint_id=_endpoint_id(input.endpoint_id),
                from_position=input.from_position,
            )
            return ReplayWebhooksSuccess(
                endpoint=WebhookEndpointType.of(done.endpoint),
                queued=done.queued,
                last_position=done.last_position,
            )

        return await attempt(run)
