"""Ports for coordinator alerts: the rules, the alerts, and the facts the rules read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from domain.alerts import Alert, AlertRule, AlertStatus, ReadingFact, VisitFact
from domain.ids import SiteId, StudyId, UserId


class AlertRepository(Protocol):
    async def add_rule(self, rule: AlertRule) -> None: ...
    async def update_rule(self, rule: AlertRule) -> None:
        """Optimistic: STALE_VERSION unless the stored rule is one version older."""
        ...

    async def rule(self, rule_id: uuid.UUID) -> AlertRule | None: ...
    async def rules(self, study_id: StudyId) -> Sequence[AlertRule]: ...
    async def studies_with_rules(self) -> Sequence[StudyId]:
        """Studies with at least one enabled rule."""
        ...

    async def try_raise(self, alert: Alert, *, email: bool) -> bool:
        """Store the alert unless one for its rule and cause exists; True when stored."""
        ...

    async def get(self, alert_id: uuid.UUID) -> Alert | None: ...
    async def update(self, alert: Alert) -> None: ...
    async def of_site(
        self, site_id: SiteId, status: AlertStatus | None, limit: int
    ) -> Sequence[Alert]:
        """Newest first."""
        ...

    async def claim_unmailed(self, site_id: SiteId, now: datetime) -> int:
        """Mark the site's alerts waiting for an e-mail as mailed; how many there were."""
        ...

    async def sites_awaiting_mail(self, raised_before: datetime) -> Sequence[SiteId]:
        """Sites with alerts raised before then still waiting for their e-mail."""
        ...

    async def site_staff(self, site_id: SiteId) -> Sequence[UserId]:
        """Active coordinators and investigators of the site (or of its whole study)."""
        ...

    # Facts for the rules; each leaves out what already raised an alert for `rule_id`.
    async def readings_outside(
        self,
        study_id: StudyId,
        rule_id: uuid.UUID,
        *,
        kind: str,
        low: Decimal | None,
        high: Decimal | None,
        limit: int,
    ) -> Sequence[ReadingFact]: ...
    async def quarantined(
        self, study_id: StudyId, rule_id: uuid.UUID, limit: int
    ) -> Sequence[ReadingFact]: ...
    async def scheduled_visits(
        self, study_id: StudyId, rule_id: uuid.UUID, before: datetime, limit: int
    ) -> Sequence[VisitFact]:
        """Visits still scheduled whose scheduled start is before `before`."""
        ...
