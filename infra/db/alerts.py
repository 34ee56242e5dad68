"""Repository for coordinator alerts: rules, alerts (one per rule and cause), and the facts
the rules read, straight from the readings and visits tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.actors import Role
from domain.alerts import (
    Alert,
    AlertKind,
    AlertRule,
    AlertStatus,
    ReadingFact,
    VisitFact,
)
from domain.devices import ReadingStatus
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId, UserId
from domain.participants import ACTIVE_STATUSES
from domain.visits import VisitStatus
from infra.db.data_keys import FieldCipher
from infra.db.tables import (
    AlertRow,
    AlertRuleRow,
    ParticipantRow,
    ReadingRow,
    SiteRow,
    StaffGrantRow,
    StaffUserRow,
    VisitDefinitionRow,
    VisitRow,
)

_RULES = AlertRuleRow.__table__  # type: ignore[attr-defined]
_ALERTS = AlertRow.__table__  # type: ignore[attr-defined]
_READINGS = ReadingRow.__table__  # type: ignore[attr-defined]
_VISITS = VisitRow.__table__  # type: ignore[attr-defined]
_DEFINITIONS = VisitDefinitionRow.__table__  # type: ignore[attr-defined]
_PARTICIPANTS = ParticipantRow.__table__  # type: ignore[attr-defined]
_SITES = SiteRow.__table__  # type: ignore[attr-defined]
_GRANTS = StaffGrantRow.__table__  # type: ignore[attr-defined]
_USERS = StaffUserRow.__table__  # type: ignore[attr-defined]
_ACTIVE = [s.value for s in ACTIVE_STATUSES]


def _plain(value: Decimal | None) -> Decimal | None:
    """A limit as it was given: 160, not the column's 160.000."""
    if value is None:
        return None
    whole = value.to_integral_value()
    return whole if value == whole else value.normalize()


def _rule(row: Any) -> AlertRule:
    return AlertRule(
        id=row.id,
        study_id=StudyId(row.study_id),
        kind=AlertKind(row.kind),
        enabled=row.enabled,
        email=row.email,
        missed=row.missed,
        reading_kind=row.reading_kind,
        low=_plain(row.low),
        high=_plain(row.high),
        wait_hours=row.wait_hours,
        version=row.version,
    )


def _rule_values(rule: AlertRule) -> dict[str, Any]:
    return {
        "study_id": rule.study_id,
        "kind": rule.kind.value,
        "enabled": rule.enabled,
        "email": rule.email,
        "missed": rule.missed,
        "reading_kind": rule.reading_kind,
        "low": rule.low,
        "high": rule.high,
        "wait_hours": rule.wait_hours,
        "version": rule.version,
    }


class SqlAlertRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    # --- rules ---

    async def add_rule(self, rule: AlertRule) -> None:
        await self._db.execute(insert(_RULES).values(id=rule.id, **_rule_values(rule)))

    async def update_rule(self, rule: AlertRule) -> None:
        found = await self._db.execute(
            update(_RULES)
            .where(_RULES.c.id == rule.id, _RULES.c.version == rule.version - 1)
            .values(**_rule_values(rule))
            .returning(_RULES.c.id)
        )
        if found.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The rule changed meanwhile; reload and retry."
            )

    async def rule(self, rule_id: uuid.UUID) -> AlertRule | None:
        row = (await self._db.execute(select(_RULES).where(_RULES.c.id == rule_id))).first()
        return _rule(row) if row else None

    async def rules(self, study_id: StudyId) -> Sequence[AlertRule]:
        rows = await self._db.execute(
            select(_RULES).where(_RULES.c.study_id == study_id).order_by(_RULES.c.kind, _RULES.c.id)
        )
        return [_rule(r) for r in rows]

    async def studies_with_rules(self) -> Sequence[StudyId]:
        rows = await self._db.execute(
            select(_RULES.c.study_id).where(_RULES.c.enabled).distinct().order_by(_RULES.c.study_id)
        )
        return [StudyId(r.study_id) for r in rows]

    # --- alerts ---

    async def try_raise(self, alert: Alert, *, email: bool) -> bool:
        stored = await self._db.execute(
            pg_insert(_ALERTS)
            .values(
                id=alert.id,
                study_id=alert.study_id,
                site_id=alert.site_id,
                participant_id=alert.participant_id,
                rule_id=alert.rule_id,
                kind=alert.kind.value,
                cause=alert.cause,
                record_id=alert.record_id,
                raised_at=alert.raised_at,
                status=alert.status.value,
                mail_pending=email,
                version=alert.version,
            )
            .on_conflict_do_nothing(index_elements=["rule_id", "cause"])
            .returning(_ALERTS.c.id)
        )
        return stored.first() is not None

    async def get(self, alert_id: uuid.UUID) -> Alert | None:
        row = (await self._db.execute(select(_ALERTS).where(_ALERTS.c.id == alert_id))).first()
        return await self._alert(row) if row else None

    async def update(self, alert: Alert) -> None:
        sealed = (
            await self._cipher.seal(alert.participant_id, "alerts", "note", alert.id, alert.note)
            if alert.note
            else None
        )
        found = await self._db.execute(
            update(_ALERTS)
            .where(_ALERTS.c.id == alert.id, _ALERTS.c.version == alert.version - 1)
            .values(
                status=alert.status.value,
                acknowledged_at=alert.acknowledged_at,
                acknowledged_by=alert.acknowledged_by,
                note_sealed=sealed,
                version=alert.version,
            )
            .returning(_ALERTS.c.id)
        )
        if found.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The alert changed meanwhile; reload and retry."
            )

    async def of_site(
        self, site_id: SiteId, status: AlertStatus | None, limit: int
    ) -> Sequence[Alert]:
        query = select(_ALERTS).where(_ALERTS.c.site_id == site_id)
        if status is not None:
            query = query.where(_ALERTS.c.status == status.value)
        rows = await self._db.execute(
            query.order_by(_ALERTS.c.raised_at.desc(), _ALERTS.c.id).limit(limit)
        )
        return [await self._alert(r) for r in rows]

    async def _alert(self, row: Any) -> Alert:
        note = (
            await self._cipher.open(row.participant_id, "alerts", "note", row.id, row.note_sealed)
            if row.note_sealed is not None
            else None
        )
        return Alert(
            id=row.id,
            study_id=StudyId(row.study_id),
            site_id=SiteId(row.site_id),
            participant_id=ParticipantId(row.participant_id),
            rule_id=row.rule_id,
            kind=AlertKind(row.kind),
            cause=row.cause,
            record_id=row.record_id,
            raised_at=row.raised_at,
            status=AlertStatus(row.status),
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
            note=note,
            version=row.version,
        )

    async def claim_unmailed(self, site_id: SiteId, now: datetime) -> int:
        claimed = await self._db.execute(
            update(_ALERTS)
            .where(_ALERTS.c.site_id == site_id, _ALERTS.c.mail_pending)
            .values(mail_pending=False, mailed_at=now)
            .returning(_ALERTS.c.id)
        )
        return len(claimed.all())

    async def sites_awaiting_mail(self, raised_before: datetime) -> Sequence[SiteId]:
        rows = await self._db.execute(
            select(_ALERTS.c.site_id)
            .where(_ALERTS.c.mail_pending, _ALERTS.c.raised_at < raised_before)
            .distinct()
            .order_by(_ALERTS.c.site_id)
        )
        return [SiteId(r.site_id) for r in rows]

    async def site_staff(self, site_id: SiteId) -> Sequence[UserId]:
        site = select(_SITES.c.study_id).where(_SITES.c.id == site_id).scalar_subquery()
        rows = await self._db.execute(
            select(_GRANTS.c.user_id)
            .join(_USERS, _USERS.c.id == _GRANTS.c.user_id)
            .where(
                _GRANTS.c.role.in_([Role.COORDINATOR.value, Role.INVESTIGATOR.value]),
                _USERS.c.status == "ACTIVE",
                or_(
                    _GRANTS.c.site_id == site_id,
                    and_(_GRANTS.c.site_id.is_(None), _GRANTS.c.study_id == site),
                ),
            )
            .distinct()
            .order_by(_GRANTS.c.user_id)
        )
        return [UserId(r.user_id) for r in rows]

    # --- facts ---

    def _not_alerted(self, rule_id: uuid.UUID, prefix: str, record: Any) -> Any:
        return ~exists().where(
            _ALERTS.c.rule_id == rule_id,
            _ALERTS.c.cause == func.concat(prefix, func.cast(record, _ALERTS.c.cause.type)),
        )

    async def readings_outside(
        self,
        study_id: StudyId,
        rule_id: uuid.UUID,
        *,
        kind: str,
        low: Decimal | None,
        high: Decimal | None,
        limit: int,
    ) -> Sequence[ReadingFact]:
        bounds = []
        if low is not None:
            bounds.append(_READINGS.c.primary_value < low)
        if high is not None:
            bounds.append(_READINGS.c.primary_value > high)
        rows = await self._db.execute(
            select(_READINGS)
            .join(_PARTICIPANTS, _PARTICIPANTS.c.id == _READINGS.c.participant_id)
            .where(
                _READINGS.c.study_id == study_id,
                _READINGS.c.kind == kind,
                _READINGS.c.deleted_at.is_(None),
                _READINGS.c.status == ReadingStatus.ACCEPTED.value,
                _PARTICIPANTS.c.status.in_(_ACTIVE),
                or_(*bounds),
                self._not_alerted(rule_id, "reading:", _READINGS.c.id),
            )
            .order_by(_READINGS.c.received_at, _READINGS.c.id)
            .limit(limit)
        )
        return [_reading(r) for r in rows]

    async def quarantined(
        self, study_id: StudyId, rule_id: uuid.UUID, limit: int
    ) -> Sequence[ReadingFact]:
        rows = await self._db.execute(
            select(_READINGS)
            .where(
                _READINGS.c.study_id == study_id,
                _READINGS.c.status == ReadingStatus.QUARANTINED.value,
                _READINGS.c.deleted_at.is_(None),
                self._not_alerted(rule_id, "quarantine:", _READINGS.c.id),
            )
            .order_by(_READINGS.c.received_at, _READINGS.c.id)
            .limit(limit)
        )
        return [_reading(r, quarantined=True) for r in rows]

    async def scheduled_visits(
        self, study_id: StudyId, rule_id: uuid.UUID, before: datetime, limit: int
    ) -> Sequence[VisitFact]:
        rows = await self._db.execute(
            select(
                _VISITS.c.id,
                _VISITS.c.participant_id,
                _VISITS.c.site_id,
                _VISITS.c.timezone,
                _VISITS.c.starts_at,
                _VISITS.c.duration_minutes,
                _DEFINITIONS.c.day,
                _DEFINITIONS.c.window_after,
                _PARTICIPANTS.c.enrolled_on,
            )
            .join(_DEFINITIONS, _DEFINITIONS.c.id == _VISITS.c.definition_id)
            .join(_PARTICIPANTS, _PARTICIPANTS.c.id == _VISITS.c.participant_id)
            .where(
                _VISITS.c.study_id == study_id,
                _VISITS.c.status == VisitStatus.SCHEDULED.value,
                _VISITS.c.starts_at < before,
                _PARTICIPANTS.c.status.in_(_ACTIVE),
                self._not_alerted(rule_id, "visit:", _VISITS.c.id),
            )
            .order_by(_VISITS.c.starts_at, _VISITS.c.id)
            .limit(limit)
        )
        return [
            VisitFact(
                id=r.id,
                participant_id=ParticipantId(r.participant_id),
                site_id=SiteId(r.site_id),
                timezone=r.timezone,
                ends_at=r.starts_at + timedelta(minutes=r.duration_minutes),
                window_last_day=(
                    None
                    if r.enrolled_on is None
                    else r.enrolled_on + timedelta(days=r.day + r.window_after)
                ),
            )
            for r in rows
        ]


def _reading(row: Any, *, quarantined: bool = False) -> ReadingFact:
    return ReadingFact(
        id=row.id,
        participant_id=ParticipantId(row.participant_id),
        site_id=SiteId(row.site_id),
        kind=row.kind,
        value=row.primary_value,
        quarantined_since=row.received_at if quarantined else None,
    )
