"""GraphQL for reminders: push subscriptions and acknowledgements from the participant's
app, the offline plan, and receipts for site staff."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, cast

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import to_global_id
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId
from domain.notifications import Notification, State
from domain.services import notifications as cases
from domain.services import reminders as plans
from domain.services.reminders import NotifyingUnitOfWork

NotificationStateType = strawberry.enum(
    State,
    name="NotificationState",
    description="QUEUED → SENT → DELIVERED → OPENED; FAILED (with a reason) is final.",
)


def _uow(info: Info) -> NotifyingUnitOfWork:
    return cast(NotifyingUnitOfWork, info.context.services.uow())


@strawberry.type(
    name="NotificationReceipt",
    description="One reminder to a participant and how far it got. Never its text's subject.",
)
class NotificationReceiptType:
    id: strawberry.ID = strawberry.field(
        description="The id the push payload and the e-mail header carry; acknowledge with it."
    )
    participant_id: strawberry.ID
    state: State
    reason: str | None = strawberry.field(description="Why it failed (or last failed).")
    template: str = strawberry.field(description="Which text: diary_due, diary_closing, ...")
    template_version: int
    language: str
    channel: str | None = strawberry.field(description="webpush or email, once sent.")
    attempts: int
    planned_at: datetime
    sent_at: datetime | None
    opened_at: datetime | None

    @classmethod
    def of(cls, n: Notification) -> NotificationReceiptType:
        return cls(
            id=strawberry.ID(str(n.id)),
            participant_id=to_global_id("Participant", n.participant_id),
            state=n.state,
            reason=n.reason,
            template=n.template,
            template_version=n.template_version,
            language=n.language,
            channel=n.channel,
            attempts=n.attempts,
            planned_at=n.planned_at,
            sent_at=n.sent_at,
            opened_at=n.opened_at,
        )


@strawberry.type(
    name="NotificationReceipts",
    description="Reminder receipts (newest first, at most 200) and their count by state.",
)
class NotificationReceiptsType:
    queued: int
    sent: int
    delivered: int
    opened: int
    failed: int
    items: list[NotificationReceiptType]

    @classmethod
    def of(cls, found: Sequence[Notification]) -> NotificationReceiptsType:
        def count(state: State) -> int:
            return sum(n.state is state for n in found)

        return cls(
            queued=count(State.QUEUED),
            sent=count(State.SENT),
            delivered=count(State.DELIVERED),
            opened=count(State.OPENED),
            failed=count(State.FAILED),
            items=[NotificationReceiptType.of(n) for n in found],
        )


async def receipts_of_participant(
    info: Info, participant_id: ParticipantId
) -> NotificationReceiptsType:
    found = await cases.of_participant(
        uow=_uow(info), ctx=info.context.caller, participant_id=participant_id
    )
    return NotificationReceiptsType.of(found)


async def receipts_of_site(info: Info, site_id: SiteId) -> NotificationReceiptsType:
    found = await cases.of_site(uow=_uow(info), ctx=info.context.caller, site_id=site_id)
    return NotificationReceiptsType.of(found)


@strawberry.type(name="PlannedReminder")
class PlannedReminderType:
    key: str = strawberry.field(description="Stable per (schedule, occurrence, rule).")
    rule: str = strawberry.field(description="due, closing, missed (diaries) or visit.")
    at: datetime = strawberry.field(description="The instant (UTC), quiet hours applied.")
    local: datetime = strawberry.field(description="The same instant in the zone then.")
    closes_at: datetime
    title: str
    body: str


@strawberry.type(
    name="NotificationPlan",
    description="Reminders the app schedules as local notifications while offline. Ask "
    "again when `version` differs from the one held.",
)
class NotificationPlanType:
    version: str
    timezone: str
    reminders: list[PlannedReminderType]


async def plan_of(
    info: Info, participant_id: ParticipantId, days: int, language: str | None
) -> NotificationPlanType:
    plan = await plans.notification_plan(
        uow=info.context.services.uow(),
        ctx=info.context.caller,
        participant_id=participant_id,
        days=days,
    )
    items = []
    for r in plan.reminders:
        message = plans.template_of(r).render(language or plan.language, r.key)
        items.append(
            PlannedReminderType(
                key=r.key,
                rule=r.rule,
                at=r.at,
                local=r.local,
                closes_at=r.closes_at,
                title=message.title,
                body=message.body,
            )
        )
    return NotificationPlanType(version=plan.version, timezone=plan.timezone, reminders=items)


@strawberry.input
class PushKeysInput:
    p256dh: str = strawberry.field(description="The browser's P-256 public key (base64url).")
    auth: str = strawberry.field(description="The 16-byte auth secret (base64url).")


@strawberry.input(description="A Web Push subscription as `PushSubscription.toJSON()` gives it.")
class RegisterPushSubscriptionInput:
    endpoint: str
    keys: PushKeysInput


@strawberry.input
class RemovePushSubscriptionInput:
    endpoint: str


@strawberry.input
class AcknowledgeNotificationInput:
    id: strawberry.ID = strawberry.field(description="The id from the push payload or e-mail.")
    state: State = strawberry.field(
        default=State.OPENED,
        description="DELIVERED when the app received it (its push handler), OPENED when the "
        "participant opened it; other states are refused (VALIDATION_FAILED).",
    )


@strawberry.type
class PushSubscriptionSuccess:
    endpoint: str
    created_at: datetime


@strawberry.type
class RemovePushSubscriptionSuccess:
    removed: bool


@strawberry.type
class AcknowledgeNotificationSuccess:
    receipt: NotificationReceiptType


PushSubscriptionResult = Annotated[
    PushSubscriptionSuccess | MutationError, strawberry.union("PushSubscriptionResult")
]
RemovePushSubscriptionResult = Annotated[
    RemovePushSubscriptionSuccess | MutationError,
    strawberry.union("RemovePushSubscriptionResult"),
]
AcknowledgeNotificationResult = Annotated[
    AcknowledgeNotificationSuccess | MutationError,
    strawberry.union("AcknowledgeNotificationResult"),
]


def _notification_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise DomainError(ErrorCode.INVALID_ID, "Malformed id.", field="id") from None


@strawberry.type
class NotificationQueries:
    @strawberry.field(
        description="The VAPID public key (base64url) to subscribe to Web Push with; null "
        "when this installation sends no Web Push reminders."
    )
    def push_application_server_key(self, info: Info) -> str | None:
        settings = info.context.services.settings
        return settings.vapid_public_key if settings.vapid_private_key is not None else None


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(description="The participant's app: where to push its reminders.")
    async def register_push_subscription(
        self, info: Info, input: RegisterPushSubscriptionInput
    ) -> PushSubscriptionResult:
        async def run() -> PushSubscriptionSuccess:
            stored = await cases.register_push_subscription(
                uow=_uow(info),
                ctx=info.context.caller,
                endpoint=input.endpoint,
                p256dh=input.keys.p256dh,
                auth=input.keys.auth,
            )
            return PushSubscriptionSuccess(endpoint=stored.endpoint, created_at=stored.created_at)

        return await attempt(run)

    @strawberry.mutation(description="The participant's app: stop pushing to this endpoint.")
    async def remove_push_subscription(
        self, info: Info, input: RemovePushSubscriptionInput
    ) -> RemovePushSubscriptionResult:
        async def run() -> RemovePushSubscriptionSuccess:
            removed = await cases.remove_push_subscription(
                uow=_uow(info), ctx=info.context.caller, endpoint=input.endpoint
            )
            return RemovePushSubscriptionSuccess(removed=removed)

        return await attempt(run)

    @strawberry.mutation(
        description="The participant's app received (DELIVERED) or opened (OPENED) a reminder."
    )
    async def acknowledge_notification(
        self, info: Info, input: AcknowledgeNotificationInput
    ) -> AcknowledgeNotificationResult:
        async def run() -> AcknowledgeNotificationSuccess:
            opened = await cases.acknowledge(
                uow=_uow(info),
                ctx=info.context.caller,
                notification_id=_notification_id(input.id),
                state=input.state,
            )
            return AcknowledgeNotificationSuccess(receipt=NotificationReceiptType.of(opened))

        return await attempt(run)
