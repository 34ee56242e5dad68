"""Ports for webhook endpoints and their deliveries, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Protocol

from domain.ids import StudyId
from domain.webhook_endpoints import AttemptRecord, Delivery, Secrets, WebhookEndpoint
from domain.webhooks import EventType, LoggedEvent


class WebhookRepository(Protocol):
    async def add(self, endpoint: WebhookEndpoint, secrets: Secrets) -> None: ...
    async def get(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None: ...

    async def hold(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        """Read and lock until commit: changes, dispatch and verdicts never interleave."""
        ...

    async def update(self, endpoint: WebhookEndpoint) -> None: ...
    async def secrets(self, endpoint: WebhookEndpoint) -> Secrets: ...
    async def set_secrets(self, endpoint: WebhookEndpoint, secrets: Secrets) -> None: ...

    async def delete(self, endpoint: WebhookEndpoint) -> None:
        """The endpoint, its deliveries and tries, and its secrets' key (crypto-shredded)."""
        ...

    async def of_study(self, study_id: StudyId) -> Sequence[WebhookEndpoint]: ...

    async def to_dispatch(self, limit: int) -> Sequence[WebhookEndpoint]:
        """Enabled endpoints, locked until commit; ones another worker holds are skipped."""
        ...

    async def log_size(self, study_id: StudyId) -> int:
        """How many events the study's log has positions for."""
        ...

    async def events(
        self,
        study_id: StudyId,
        types: Sequence[EventType],
        *,
        after: int,
        until: int,
        limit: int,
    ) -> Sequence[LoggedEvent]:
        """Events of these types at positions after..until, oldest first, pseudonymised."""
        ...

    async def event(self, study_id: StudyId, event_id: uuid.UUID) -> LoggedEvent | None: ...
    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None: ...
    async def delivery(self, delivery_id: uuid.UUID) -> Delivery | None: ...
    async def hold_delivery(self, delivery_id: uuid.UUID) -> Delivery | None: ...
    async def update_delivery(self, delivery: Delivery) -> None: ...
    async def add_attempt(self, attempt: AttemptRecord) -> None: ...

    async def deliveries(self, endpoint_id: uuid.UUID, *, limit: int) -> Sequence[Delivery]:
        """The newest first."""
        ...

    async def attempts(
        self, delivery_ids: Sequence[uuid.UUID]
    ) -> Mapping[uuid.UUID, Sequence[AttemptRecord]]: ...
