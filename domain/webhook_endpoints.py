"""Webhook endpoints as the domain keeps them: where they point, what they receive, their
secrets (shown once), whether they still receive, and every delivery with its tries."""

from __future__ import annotations

import base64
import dataclasses
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import StudyId
from domain.webhooks import EventType, Outcome, check_url, parse_event_types

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)
REPLAY_LIMIT = 1000  # events one replay re-sends; continue from `last_position + 1`


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class DisabledBecause(StrEnum):
    ASKED = "asked"  # an administrator or data manager disabled it
    FAILING = "failing"  # its last messages all exhausted their tries


@dataclass(frozen=True)
class WebhookEndpoint:
    """Where one study's events are sent. Its secrets live apart, sealed (`Secrets`)."""

    ENTITY: ClassVar[str] = "WebhookEndpoint"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    study_id: StudyId
    url: str
    event_types: tuple[EventType, ...]
    enabled: bool
    created_at: datetime
    secret_rotated_at: datetime
    previous_secret_until: datetime | None = None
    disabled_at: datetime | None = None
    disabled_because: DisabledBecause | None = None
    failed_in_a_row: int = 0
    # The last position of the study's log handed out as deliveries; new events come after.
    cursor: int = 0
    replays: int = 0
    version: int = 1

    @classmethod
    def new(
        cls, *, study_id: StudyId, url: str, event_types: Sequence[str], cursor: int, now: datetime
    ) -> WebhookEndpoint:
        return cls(
            id=uuid.uuid4(),
            study_id=study_id,
            url=check_url(url),
            event_types=_types(event_types),
            enabled=True,
            created_at=now,
            secret_rotated_at=now,
            cursor=cursor,
        )

    def changed(self, *, url: str | None, event_types: Sequence[str] | None) -> WebhookEndpoint:
        return self._next(
            url=self.url if url is None else check_url(url),
            event_types=self.event_types if event_types is None else _types(event_types),
        )

    def enable(self) -> WebhookEndpoint:
        return self._next(enabled=True, disabled_at=None, disabled_because=None, failed_in_a_row=0)

    def disable(self, because: DisabledBecause, now: datetime) -> WebhookEndpoint:
        if not self.enabled:
            return self
        return self._next(enabled=False, disabled_at=now, disabled_because=because)

    def rotated(self, now: datetime, overlap: timedelta) -> WebhookEndpoint:
        if not timedelta(0) <= overlap <= MAX_OVERLAP:
            raise Invalid("overlapMinutes", "The overlap is between 0 minutes and 7 days.")
        return self._next(secret_rotated_at=now, previous_secret_until=now + overlap)

    def replayed(self) -> WebhookEndpoint:
        return self._next(replays=self.replays + 1)

    def judged(self, outcome: Outcome) -> WebhookEndpoint:
        """After a message's last try: a delivery resets the count, giving up adds one."""
        if outcome is Outcome.DELIVERED:
            return dataclasses.replace(self, failed_in_a_row=0)
        if outcome is Outcome.GAVE_UP:
            return dataclasses.replace(self, failed_in_a_row=self.failed_in_a_row + 1)
        return self

    def receives(self, type_: EventType) -> bool:
        return self.enabled and type_ in self.event_types

    def _next(self, **changes: object) -> WebhookEndpoint:
        return dataclasses.replace(self, version=self.version + 1, **changes)  # type: ignore[arg-type]


def _types(raw: Sequence[str]) -> tuple[EventType, ...]:
    return tuple(sorted(parse_event_types(raw)))


@dataclass(frozen=True, repr=False)
class Secrets:
    """An endpoint's signing secrets: the current one, and the one before it until its
    overlap ends (both sign meanwhile, so receivers can switch without losing messages)."""

    current: str
    previous: str | None = None

    def signing(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        until = endpoint.previous_secret_until
        keep = self.previous is not None and until is not None and now < until
        return [self.current, *([self.previous] if keep and self.previous else [])]

    def rotated(self, new: str) -> Secrets:
        return Secrets(current=new, previous=self.current)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # queued for its first try
    RETRYING = "retrying"
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"
    SKIPPED = "skipped"  # the endpoint was disabled or deleted before it was sent

    @property
    def final(self) -> bool:
        return self in (DeliveryStatus.DELIVERED, DeliveryStatus.GAVE_UP, DeliveryStatus.SKIPPED)


@dataclass(frozen=True)
class Delivery:
    """One event for one endpoint (again for each replay), with the same `webhook-id`."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    log_position: int
    event_type: EventType
    message_id: str
    round: int  # 0: sent as it happened; n: the endpoint's n-th replay
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_try_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class AttemptRecord:
    """One try, as logged: what the receiver said, how long it took and what comes next."""

    delivery_id: uuid.UUID
    number: int
    at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    outcome: Outcome
    next_try_at: datetime | None


def check_position(position: int) -> int:
    if position < 1:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "Log positions start at 1.", field="fromPosition"
        )
    return position
