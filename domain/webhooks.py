"""Webhook rules: which URLs are accepted, which events a subscription means, how a
delivery is identified, retried and given up on, and what a payload may carry."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from domain.errors import DomainError, ErrorCode
from domain.outbox import RetryPolicy

# Deliveries of one endpoint: 8 tries, 10 s doubling to at most 1 h (about 2 h 50 min).
DELIVERY_RETRIES = RetryPolicy(
    attempts=8, first_delay=timedelta(seconds=10), max_delay=timedelta(hours=1)
)
DISABLE_AFTER = 3  # messages that exhausted every try in a row: the endpoint is disabled
TIMEOUT_SECONDS = 10.0
MAX_URL_LENGTH = 2048
# Stable namespace for message ids, so a replay of the same event to the same endpoint
# carries the same `webhook-id` and receivers can deduplicate.
_MESSAGE_NAMESPACE = uuid.UUID("5b0b8f3e-0c55-4e0e-9a51-7d6f3f2f8e1a")


class EventType(StrEnum):
    """What an endpoint may subscribe to: an entity and what happened to it."""

    PARTICIPANT_CHANGED = "participant.changed"
    VISIT_CHANGED = "visit.changed"
    DIARY_ENTRY_CHANGED = "diary_entry.changed"
    READINGS_RECEIVED = "readings.received"
    DATA_QUERY_CHANGED = "data_query.changed"
    EXPORT_CHANGED = "export.changed"


# The audit log's entity types, by the event type that covers them.
_ENTITIES: Mapping[str, EventType] = {
    "Participant": EventType.PARTICIPANT_CHANGED,
    "Visit": EventType.VISIT_CHANGED,
    "DiaryEntry": EventType.DIARY_ENTRY_CHANGED,
    "ReadingBatch": EventType.READINGS_RECEIVED,
    "DataQuery": EventType.DATA_QUERY_CHANGED,
    "ExportJob": EventType.EXPORT_CHANGED,
}


def event_type_of(entity_type: str) -> EventType | None:
    """The event type an audit event of this entity type is delivered as, if any."""
    return _ENTITIES.get(entity_type)


def entity_types_of(types: Iterable[EventType]) -> list[str]:
    """The audit log's entity types that these event types cover."""
    wanted = set(types)
    return sorted(entity for entity, type_ in _ENTITIES.items() if type_ in wanted)


def parse_event_types(raw: Sequence[str]) -> frozenset[EventType]:
    """Subscribed types from what a caller sent; unknown or no types get a stable code."""
    known = {t.value: t for t in EventType}
    unknown = sorted(set(raw) - known.keys())
    if unknown or not raw:
        raise DomainError(
            ErrorCode.UNKNOWN_EVENT_TYPE,
            f"Subscribe to one or more of: {', '.join(sorted(known))}.",
            field="eventTypes",
        )
    return frozenset(known[r] for r in raw)


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host and no credentials, or a stable refusal."""
    parts = urlsplit(url) if len(url) <= MAX_URL_LENGTH else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or any(c.isspace() for c in url)
    ):
        raise DomainError(
            ErrorCode.INVALID_WEBHOOK_URL,
            "The endpoint must be an absolute http:// or https:// URL with a host and "
            "no user name or password in it.",
            field="url",
        )
    return url


def message_id(endpoint_id: uuid.UUID, event_id: uuid.UUID) -> str:
    """The `webhook-id`: the same for every try and replay of one event to one endpoint."""
    return f"msg_{uuid.uuid5(_MESSAGE_NAMESPACE, f'{endpoint_id}/{event_id}').hex}"


class Outcome(StrEnum):
    DELIVERED = "delivered"  # a 2xx answer
    RETRYING = "retrying"  # failed; tried again at `next_try_at`
    GAVE_UP = "gave_up"  # failed on the last try


@dataclass(frozen=True)
class Attempt:
    """One try at delivering one message: what the receiver said and what happens next."""

    status_code: int | None  # None: no HTTP answer (refused, timed out, bad redirect)
    latency_ms: float
    error: str | None  # why it failed, never the body the receiver sent

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def judge(attempt: Attempt, number: int, now: datetime) -> tuple[Outcome, datetime | None]:
    """What try number `number` (from 1) leads to, and when the next try is due."""
    if attempt.succeeded:
        return Outcome.DELIVERED, None
    delay = DELIVERY_RETRIES.delay(number)
    if delay is None:
        return Outcome.GAVE_UP, None
    return Outcome.RETRYING, now + delay


def should_disable(failed_in_a_row: int) -> bool:
    """An endpoint whose last messages all exhausted their tries is disabled (audited)."""
    return failed_in_a_row >= DISABLE_AFTER


@dataclass(frozen=True)
class LoggedEvent:
    """The part of an audit event a webhook may show: ids, kinds, times, a log position.

    Field values, reasons, free text and sealed values never leave in a webhook: a
    receiver fetches what it may see through the API, pseudonymised as exports are.
    """

    id: uuid.UUID
    study_id: uuid.UUID
    position: int
    entity_type: str
    entity_id: str
    action: str
    recorded_at: datetime
    # The participant's random study subject id (as exports print it), never their
    # internal id, name or screening number.
    subject_id: str | None = None


def payload(event: LoggedEvent, type_: EventType) -> dict[str, object]:
    """The Standard Webhooks JSON body for one event; a participant appears only by the
    pseudonymous subject id exports use."""
    entity = event.subject_id if event.entity_type == "Participant" else event.entity_id
    return {
        "type": type_.value,
        "timestamp": event.recorded_at.isoformat(),
        "data": {
            "eventId": str(event.id),
            "studyId": str(event.study_id),
            "logPosition": event.position,
            "entityType": event.entity_type,
            "entityId": entity,
            "action": event.action,
            "subjectId": event.subject_id,
        },
    }
