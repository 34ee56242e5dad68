"""An in-memory alert repository: rules, alerts (one per rule and cause) and given facts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from domain.alerts import Alert, AlertRule, AlertStatus, ReadingFact, VisitFact
from domain.errors import DomainError, ErrorCode
from domain.ids import SiteId, StudyId, UserId
from tests.fakes.clock import FakeClock
from tests.fakes.unit_of_work import FakeUnitOfWork


class FakeAlerts:
    def __init__(self) -> None:
        self.rule_rows: dict[uuid.UUID, AlertRule] = {}
        self.rows: dict[uuid.UUID, Alert] = {}
        self.pending_mail: set[uuid.UUID] = set()
        self.readings: list[ReadingFact] = []
        self.visits: list[VisitFact] = []
        self.staff: dict[SiteId, list[UserId]] = {}

    async def add_rule(self, rule: AlertRule) -> None:
        self.rule_rows[rule.id] = rule

    async def update_rule(self, rule: AlertRule) -> None:
        if self.rule_rows[rule.id].version != rule.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rule_rows[rule.id] = rule

    async def rule(self, rule_id: uuid.UUID) -> AlertRule | None:
        return self.rule_rows.get(rule_id)

    async def rules(self, study_id: StudyId) -> Sequence[AlertRule]:
        return [r for r in self.rule_rows.values() if r.study_id == study_id]

    async def studies_with_rules(self) -> Sequence[StudyId]:
        return sorted({r.study_id for r in self.rule_rows.values() if r.enabled})

    async def try_raise(self, alert: Alert, *, email: bool) -> bool:
        if any((a.rule_id, a.cause) == (alert.rule_id, alert.cause) for a in self.rows.values()):
            return False
        self.rows[alert.id] = alert
        if email:
            self.pending_mail.add(alert.id)
        return True

    async def get(self, alert_id: uuid.UUID) -> Alert | None:
        return self.rows.get(alert_id)

    async def update(self, alert: Alert) -> None:
        self.rows[alert.id] = alert

    async def of_site(
        self, site_id: SiteId, status: AlertStatus | None, limit: int
    ) -> Sequence[Alert]:
        found = [
            a
            for a in self.rows.values()
            if a.site_id == site_id and (status is None or a.status is status)
        ]
        return sorted(found, key=lambda a: a.raised_at, reverse=True)[:limit]

    async def claim_unmailed(self, site_id: SiteId, now: datetime) -> int:
        mine = {i for i in self.pending_mail if self.rows[i].site_id == site_id}
        self.pending_mail -= mine
        return len(mine)

    async def sites_awaiting_mail(self, raised_before: datetime) -> Sequence[SiteId]:
        found = {self.rows[i].site_id for i in self.pending_mail}
        return sorted(
            s
            for s in found
            if any(
                self.rows[i].site_id == s and self.rows[i].raised_at < raised_before
                for i in self.pending_mail
            )
        )

    async def site_staff(self, site_id: SiteId) -> Sequence[UserId]:
        return self.staff.get(site_id, [])

    def _raised(self, rule_id: uuid.UUID, key: str) -> bool:
        return any((a.rule_id, a.cause) == (rule_id, key) for a in self.rows.values())

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
        # Everything of the kind: the domain rule decides what is outside.
        return [
            r
            for r in self.readings
            if r.kind == kind
            and r.quarantined_since is None
            and not self._raised(rule_id, f"reading:{r.id}")
        ][:limit]

    async def quarantined(
        self, study_id: StudyId, rule_id: uuid.UUID, limit: int
    ) -> Sequence[ReadingFact]:
        return [
            r
            for r in self.readings
            if r.quarantined_since is not None and not self._raised(rule_id, f"quarantine:{r.id}")
        ][:limit]

    async def scheduled_visits(
        self, study_id: StudyId, rule_id: uuid.UUID, before: datetime, limit: int
    ) -> Sequence[VisitFact]:
        return [v for v in self.visits if not self._raised(rule_id, f"visit:{v.id}")][:limit]


class FakeAlertsUnitOfWork(FakeUnitOfWork):
    """The fake unit of work with an alert repository."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        super().__init__(clock)
        self.alerts = FakeAlerts()
