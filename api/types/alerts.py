"""GraphQL types and mutations for coordinator alerts and their rules."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, cast

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import from_global_id, to_global_id
from domain.alerts import Alert, AlertKind, AlertRule, AlertStatus
from domain.errors import Forbidden, NotFound
from domain.ids import SiteId, StudyId
from domain.services import alerts as cases
from domain.services.alerts import AlertsUnitOfWork, RuleInput

AlertKindType = strawberry.enum(AlertKind, name="AlertKind")
AlertStatusType = strawberry.enum(AlertStatus, name="AlertStatus")


def _uow(info: Info) -> AlertsUnitOfWork:
    return cast(AlertsUnitOfWork, info.context.services.uow())


@strawberry.type(name="AlertRule", description="What a study watches for, and whom it tells.")
class AlertRuleType:
    id: strawberry.ID
    kind: AlertKind
    enabled: bool
    email: bool = strawberry.field(description="Also e-mail the site's staff (a count only).")
    missed: int | None = strawberry.field(description="MISSED_DIARIES: how many in a row.")
    reading_kind: str | None = strawberry.field(description="READING_OUT_OF_RANGE: which kind.")
    low: Decimal | None = strawberry.field(description="Below this (canonical unit) alerts.")
    high: Decimal | None = strawberry.field(description="Above this (canonical unit) alerts.")
    wait_hours: int | None = strawberry.field(
        description="QUARANTINE_WAITING: alert when a reading waits longer than this."
    )
    version: int

    @staticmethod
    def of(rule: AlertRule) -> AlertRuleType:
        return AlertRuleType(
            id=to_global_id("AlertRule", rule.id),
            kind=rule.kind,
            enabled=rule.enabled,
            email=rule.email,
            missed=rule.missed,
            reading_kind=rule.reading_kind,
            low=rule.low,
            high=rule.high,
            wait_hours=rule.wait_hours,
            version=rule.version,
        )


@strawberry.type(name="Alert", description="Something at a site that needs a look.")
class AlertType:
    id: strawberry.ID
    kind: AlertKind
    status: AlertStatus
    raised_at: datetime
    acknowledged_at: datetime | None
    note: str | None = strawberry.field(
        description="What the site did (sealed free text): the site's staff read it."
    )
    version: int
    entity: strawberry.Private[Alert]

    @staticmethod
    def of(alert: Alert) -> AlertType:
        return AlertType(
            id=to_global_id("Alert", alert.id),
            kind=alert.kind,
            status=alert.status,
            raised_at=alert.raised_at,
            acknowledged_at=alert.acknowledged_at,
            note=alert.note,
            version=alert.version,
            entity=alert,
        )

    @strawberry.field
    def participant_id(self) -> strawberry.ID:
        return to_global_id("Participant", self.entity.participant_id)

    @strawberry.field(description="The reading, visit or adverse event it is about, if one.")
    def record_id(self) -> str | None:
        return None if self.entity.record_id is None else str(self.entity.record_id)

    @strawberry.field
    def acknowledged_by(self) -> strawberry.ID | None:
        by = self.entity.acknowledged_by
        return None if by is None else to_global_id("StaffUser", by)


async def alert_by_id(info: Info, alert_id: uuid.UUID) -> AlertType | None:
    """One alert as the caller may see it (the note withheld unless site staff); None when
    it is missing or not theirs."""
    try:
        found = await cases.get(uow=_uow(info), ctx=info.context.caller, alert_id=alert_id)
    except (NotFound, Forbidden):
        return None
    return AlertType.of(found)


async def alerts_of_site(
    info: Info, site_id: SiteId, status: AlertStatus | None
) -> list[AlertType]:
    found = await cases.of_site(
        uow=_uow(info), ctx=info.context.caller, site_id=site_id, status=status
    )
    return [AlertType.of(a) for a in found]


async def rules_of_study(info: Info, study_id: StudyId) -> list[AlertRuleType]:
    found = await cases.rules(uow=_uow(info), ctx=info.context.caller, study_id=study_id)
    return [AlertRuleType.of(r) for r in found]


@strawberry.input
class SetAlertRuleInput:
    study_id: strawberry.ID
    kind: AlertKind
    rule_id: strawberry.ID | None = strawberry.field(
        default=None, description="Change this rule; leave out to add one."
    )
    version: int | None = strawberry.field(default=None, description="The rule's, as read.")
    enabled: bool = True
    email: bool = False
    missed: int | None = None
    reading_kind: str | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    wait_hours: int | None = None


@strawberry.type
class AlertRuleSuccess:
    rule: AlertRuleType


@strawberry.input
class AcknowledgeAlertInput:
    alert_id: strawberry.ID
    note: str = strawberry.field(description="What was done about it (kept sealed).")


@strawberry.type
class AlertSuccess:
    alert: AlertType


AlertRuleResult = Annotated[AlertRuleSuccess | MutationError, strawberry.union("AlertRuleResult")]
AlertResult = Annotated[AlertSuccess | MutationError, strawberry.union("AlertResult")]


@strawberry.type
class AlertQueries:
    @strawberry.field(description="A site's alerts, newest first (200 at most).")
    async def alerts(
        self, info: Info, site_id: strawberry.ID, status: AlertStatus | None = None
    ) -> list[AlertType]:
        return await alerts_of_site(info, SiteId(from_global_id(site_id, "Site")[1]), status)


@strawberry.type
class AlertMutations:
    @strawberry.mutation(
        description="Add or change one of a study's alert rules (coordinators, administrators)."
    )
    async def set_alert_rule(self, info: Info, input: SetAlertRuleInput) -> AlertRuleResult:
        async def run() -> AlertRuleSuccess:
            rule_id: uuid.UUID | None = None
            if input.rule_id is not None:
                rule_id = from_global_id(input.rule_id, "AlertRule")[1]
            rule = await cases.set_rule(
                uow=_uow(info),
                ctx=info.context.caller,
                study_id=StudyId(from_global_id(input.study_id, "Study")[1]),
                rule_id=rule_id,
                version=input.version,
                given=RuleInput(
                    kind=AlertKind(input.kind),
                    enabled=input.enabled,
                    email=input.email,
                    missed=input.missed,
                    reading_kind=input.reading_kind,
                    low=input.low,
                    high=input.high,
                    wait_hours=input.wait_hours,
                ),
            )
            return AlertRuleSuccess(rule=AlertRuleType.of(rule))

        return await attempt(run)

    @strawberry.mutation(description="Acknowledge an alert with a note (the site's staff).")
    async def acknowledge_alert(self, info: Info, input: AcknowledgeAlertInput) -> AlertResult:
        async def run() -> AlertSuccess:
            alert = await cases.acknowledge(
                uow=_uow(info),
                ctx=info.context.caller,
                alert_id=from_global_id(input.alert_id, "Alert")[1],
                note=input.note,
            )
            return AlertSuccess(alert=AlertType.of(alert))

        return await attempt(run)
