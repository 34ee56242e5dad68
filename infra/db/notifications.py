"""Repository for reminders: the once-only claim, leases for sending, receipts, and the
participants' sealed push subscriptions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ids import ParticipantId, SiteId
from domain.notifications import Notification, PushSubscription, State
from domain.participants import ACTIVE_STATUSES
from infra.crypto.blind_index import exact
from infra.db.data_keys import FieldCipher
from infra.db.tables import NotificationRow, ParticipantRow, PushSubscriptionRow

_N = NotificationRow.__table__  # type: ignore[attr-defined]
_S = PushSubscriptionRow.__table__  # type: ignore[attr-defined]
_P = ParticipantRow.__table__  # type: ignore[attr-defined]
_SUBSCRIPTIONS = "push_subscriptions"

_LEASE = text(
    """
    UPDATE notifications SET next_attempt_at = :until
    WHERE id IN (
        SELECT id FROM notifications
        WHERE state = 'QUEUED' AND next_attempt_at <= :now
        ORDER BY next_attempt_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING *
    """
)


def _notification(row: Any) -> Notification:
    return Notification(
        id=row.id,
        participant_id=row.participant_id,
        study_id=row.study_id,
        site_id=row.site_id,
        send_key=row.send_key,
        template=row.template,
        template_version=row.template_version,
        language=row.language,
        planned_at=row.planned_at,
        created_at=row.created_at,
        state=State(row.state),
        reason=row.reason,
        attempts=row.attempts,
        channel=row.channel,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        opened_at=row.opened_at,
    )


def _values(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "participant_id": n.participant_id,
        "study_id": n.study_id,
        "site_id": n.site_id,
        "send_key": n.send_key,
        "template": n.template,
        "template_version": n.template_version,
        "language": n.language,
        "planned_at": n.planned_at,
        "created_at": n.created_at,
        "state": n.state.value,
        "reason": n.reason,
        "attempts": n.attempts,
        "channel": n.channel,
        "next_attempt_at": n.next_attempt_at,
        "sent_at": n.sent_at,
        "opened_at": n.opened_at,
    }


class SqlNotificationRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    async def claim(self, notification: Notification) -> bool:
        statement = (
            insert(_N)
            .values(**_values(notification))
            .on_conflict_do_nothing(index_elements=["participant_id", "send_key"])
            .returning(_N.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def lease(self, now: datetime, until: datetime, limit: int) -> Sequence[Notification]:
        rows = await self._session.execute(_LEASE, {"now": now, "until": until, "limit": limit})
        return sorted((_notification(r) for r in rows), key=lambda n: (n.planned_at, n.id))

    async def get(self, notification_id: uuid.UUID) -> Notification | None:
        row = (await self._session.execute(select(_N).where(_N.c.id == notification_id))).first()
        return None if row is None else _notification(row)

    async def save(self, notification: Notification) -> None:
        values = _values(notification)
        del values["id"]
        await self._session.execute(update(_N).where(_N.c.id == notification.id).values(**values))

    async def of_participants(
        self, participant_ids: Sequence[ParticipantId], limit: int
    ) -> Sequence[Notification]:
        query = (
            select(_N)
            .where(_N.c.participant_id.in_(participant_ids))
            .order_by(_N.c.planned_at.desc(), _N.c.id.desc())
            .limit(limit)
        )
        return [_notification(r) for r in await self._session.execute(query)]

    async def of_site(self, site_id: SiteId, limit: int) -> Sequence[Notification]:
        query = (
            select(_N)
            .where(_N.c.site_id == site_id)
            .order_by(_N.c.planned_at.desc(), _N.c.id.desc())
            .limit(limit)
        )
        return [_notification(r) for r in await self._session.execute(query)]

    async def remindable(self) -> Sequence[ParticipantId]:
        query = (
            select(_P.c.id)
            .where(
                _P.c.status.in_([s.value for s in ACTIVE_STATUSES]),
                _P.c.enrolled_on.is_not(None),
                _P.c.erased_at.is_(None),
            )
            .order_by(_P.c.id)
        )
        return [ParticipantId(r.id) for r in await self._session.execute(query)]

    def _index(self, endpoint: str) -> bytes:
        return self._cipher.index(f"{_SUBSCRIPTIONS}.endpoint", endpoint, exact)

    async def subscribe(self, subscription: PushSubscription) -> PushSubscription:
        sub = subscription
        sealed = await self._cipher.seal(
            sub.participant_id, _SUBSCRIPTIONS, "subscription", sub.participant_id, sub.address()
        )
        statement = (
            insert(_S)
            .values(
                id=sub.id,
                participant_id=sub.participant_id,
                endpoint_index=self._index(sub.endpoint),
                subscription_sealed=sealed,
                created_at=sub.created_at,
            )
            .on_conflict_do_update(
                index_elements=["participant_id", "endpoint_index"],
                set_={"subscription_sealed": sealed},
            )
            .returning(_S.c.id, _S.c.created_at)
        )
        row = (await self._session.execute(statement)).one()
        return PushSubscription(
            row.id, sub.participant_id, sub.endpoint, sub.p256dh, sub.auth, row.created_at
        )

    async def subscriptions(self, participant_id: ParticipantId) -> Sequence[PushSubscription]:
        query = select(_S).where(_S.c.participant_id == participant_id).order_by(_S.c.created_at)
        found = []
        for row in await self._session.execute(query):
            clear = await self._cipher.open(
                participant_id,
                _SUBSCRIPTIONS,
                "subscription",
                participant_id,
                row.subscription_sealed,
            )
            if clear is None:  # the participant was erased: their key is gone
                continue
            data = json.loads(clear)
            keys = data["keys"]
            found.append(
                PushSubscription(
                    row.id,
                    participant_id,
                    data["endpoint"],
                    keys["p256dh"],
                    keys["auth"],
                    row.created_at,
                )
            )
        return found

    async def unsubscribe(self, participant_id: ParticipantId, endpoint: str) -> bool:
        statement = (
            delete(_S)
            .where(
                _S.c.participant_id == participant_id, _S.c.endpoint_index == self._index(endpoint)
            )
            .returning(_S.c.id)
        )
        return (await self._session.execute(statement)).first() is not None
