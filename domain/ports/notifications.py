"""Ports for notifications: claims, receipts and push subscriptions (infra implements them)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.ids import ParticipantId, SiteId
from domain.notifications import Notification, PushSubscription


class NotificationRepository(Protocol):
    async def claim(self, notification: Notification) -> bool:
        """Insert unless its (participant, send key) exists; True for the one caller that
        inserted it. Two transactions racing: the second waits and gets False."""
        ...

    async def lease(self, now: datetime, until: datetime, limit: int) -> Sequence[Notification]:
        """Queued notifications due at `now`, each moved to `until` so no other worker takes
        them meanwhile (rows locked by another worker are skipped)."""
        ...

    async def get(self, notification_id: uuid.UUID) -> Notification | None: ...
    async def save(self, notification: Notification) -> None: ...

    async def of_participants(
        self, participant_ids: Sequence[ParticipantId], limit: int
    ) -> Sequence[Notification]:
        """Newest first."""
        ...

    async def of_site(self, site_id: SiteId, limit: int) -> Sequence[Notification]: ...

    async def remindable(self) -> Sequence[ParticipantId]:
        """Enrolled participants still taking part: the ones reminders are planned for."""
        ...

    async def subscribe(self, subscription: PushSubscription) -> PushSubscription:
        """Store it; the same endpoint again replaces the keys and keeps the id."""
        ...

    async def subscriptions(self, participant_id: ParticipantId) -> Sequence[PushSubscription]: ...

    async def unsubscribe(self, participant_id: ParticipantId, endpoint: str) -> bool: ...
