"""Use cases for coordinator alerts: configure a study's rules, evaluate them (the worker),
raise the serious-event alert at once, list a site's alerts, acknowledge one with a note,
and e-mail a site's staff that new alerts wait (a count and a link, nothing else)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol, cast

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import Grant, RequestContext
from domain.alerts import (
    NOTIFY_SITE,
    Alert,
    AlertKind,
    AlertRule,
    AlertStatus,
    Cause,
    DiaryFact,
    missed_run,
    new_alerts_text,
    out_of_range,
    overdue_visits,
    quarantine_waiting,
    serious_event,
)
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import SiteId, StudyId
from domain.notifications import Channel, Message
from domain.outbox import Work
from domain.ports import UnitOfWork, UnitOfWorkFactory
from domain.ports.alerts import AlertRepository
from domain.services import occurrences as plans

READ = Permission.PARTICIPANT_READ  # the site's staff, monitors: who sees the participants
ACKNOWLEDGE = Permission.PARTICIPANT_UPDATE  # the site's staff act on an alert
CONFIGURE = Permission.STUDY_DESIGN  # coordinators (study-wide) and administrators
MAX_LISTED = 200
BATCH = 500  # facts read per rule and evaluation
MAIL_AGAIN_AFTER = timedelta(minutes=2)  # alerts still waiting this long: their e-mail failed


class AlertsUnitOfWork(UnitOfWork, Protocol):
    @property
    def alerts(self) -> AlertRepository: ...


def alert_scope(a: Alert) -> Scope:
    return Scope(a.study_id, a.site_id, a.participant_id)


def _subject(a: Alert) -> audit.Subject:
    return audit.Subject(study_id=a.study_id, site_id=a.site_id, participant_id=a.participant_id)


@dataclass(frozen=True)
class RuleInput:
    kind: AlertKind
    enabled: bool = True
    email: bool = False
    missed: int | None = None
    reading_kind: str | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    wait_hours: int | None = None


async def set_rule(
    *,
    uow: AlertsUnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    rule_id: uuid.UUID | None,
    version: int | None,
    given: RuleInput,
) -> AlertRule:
    """Add a rule to a study (no `rule_id`) or change one (its `version` as read)."""
    async with uow:
        study = access.visible(
            ctx.actor,
            Permission.STUDY_READ,
            await uow.studies.get(study_id),
            lambda s: Scope(study_id=s.id),
            "Study",
        )
        grant = access.require(ctx.actor, CONFIGURE, Scope(study_id=study.id))
        fields = {
            "kind": given.kind,
            "enabled": given.enabled,
            "email": given.email,
            "missed": given.missed,
            "reading_kind": given.reading_kind.strip().upper() if given.reading_kind else None,
            "low": given.low,
            "high": given.high,
            "wait_hours": given.wait_hours,
        }
        subject = audit.Subject(study_id=study.id)
        if rule_id is None:
            rule = AlertRule(id=uuid.uuid4(), study_id=study.id, **fields)  # type: ignore[arg-type]
            await uow.alerts.add_rule(rule)
            uow.record(audit.created(ctx, grant, rule, subject))
        else:
            before = await uow.alerts.rule(rule_id)
            if before is None or before.study_id != study.id:
                raise NotFound("AlertRule")
            if version is not None and before.version != version:
                raise DomainError(
                    ErrorCode.STALE_VERSION, "The rule changed meanwhile; reload and retry."
                )
            rule = before.changed(**fields)
            await uow.alerts.update_rule(rule)
            change = audit.updated(ctx, grant, before, rule, subject)
            if change is not None:
                uow.record(change)
        await uow.commit()
    return rule


async def rules(
    *, uow: AlertsUnitOfWork, ctx: RequestContext, study_id: StudyId
) -> Sequence[AlertRule]:
    access.require(ctx.actor, Permission.STUDY_READ, Scope(study_id=study_id))
    async with uow:
        return await uow.alerts.rules(study_id)


async def of_site(
    *,
    uow: AlertsUnitOfWork,
    ctx: RequestContext,
    site_id: SiteId,
    status: AlertStatus | None,
    limit: int = MAX_LISTED,
) -> Sequence[Alert]:
    async with uow:
        site = access.visible(
            ctx.actor,
            Permission.SITE_READ,
            await uow.sites.get(site_id),
            lambda s: Scope(s.study_id, s.id),
            "Site",
        )
        access.require(ctx.actor, READ, Scope(site.study_id, site.id))
        found = await uow.alerts.of_site(site.id, status, min(limit, MAX_LISTED))
    return [_shown(ctx, a) for a in found]


async def get(*, uow: AlertsUnitOfWork, ctx: RequestContext, alert_id: uuid.UUID) -> Alert:
    async with uow:
        found = await uow.alerts.get(alert_id)
    return _shown(ctx, access.visible(ctx.actor, READ, found, alert_scope, "Alert"))


def _shown(ctx: RequestContext, alert: Alert) -> Alert:
    """The note is free text: the site's staff read it, monitors see that there is one."""
    if alert.note is None or access.allows(
        ctx.actor, Permission.IDENTIFIERS_READ, alert_scope(alert)
    ):
        return alert
    return dataclasses.replace(alert, note=None)


async def acknowledge(
    *, uow: AlertsUnitOfWork, ctx: RequestContext, alert_id: uuid.UUID, note: str
) -> Alert:
    """The site looked into the alert: who, when and what they did (the note, sealed)."""
    async with uow:
        found = await uow.alerts.get(alert_id)
        alert = access.visible(ctx.actor, READ, found, alert_scope, "Alert")
        grant = access.require(ctx.actor, ACKNOWLEDGE, alert_scope(alert))
        if ctx.actor.id is None:  # pragma: no cover - the permission checks ruled this out
            raise NotFound("Staff user")
        after = alert.acknowledged(ctx.actor.id, note, uow.clock.now())
        await uow.alerts.update(after)
        change = audit.updated(ctx, grant, alert, after, _subject(alert), action="acknowledged")
        if change is not None:
            uow.record(change)
        await uow.commit()
    return after


# --- raising ---------------------------------------------------------------------------------


async def _raise(
    uow: AlertsUnitOfWork, ctx: RequestContext, rule: AlertRule, causes: Sequence[Cause]
) -> list[Alert]:
    """Store an alert per new cause (inside the caller's transaction) and audit each one."""
    raised = []
    now = uow.clock.now()
    for cause in causes:
        alert = Alert.raised(rule, cause, now)
        if await uow.alerts.try_raise(alert, email=rule.email):
            grant = access.require(ctx.actor, READ, alert_scope(alert))
            uow.record(audit.created(ctx, grant, alert, _subject(alert)))
            raised.append(alert)
    if rule.email:
        for site_id in sorted({a.site_id for a in raised}):
            uow.enqueue(Work(NOTIFY_SITE, {"site_id": str(site_id)}))
    return raised


async def serious_reported(
    uow: AlertsUnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    *,
    study_id: StudyId,
    site_id: SiteId,
    participant_id: uuid.UUID,
    event_id: uuid.UUID,
) -> list[Alert]:
    """A serious adverse event: its alert, at once, in the transaction that made it serious.
    Raised by the system on behalf of whoever reported it (their grant is in the audit)."""
    found = []
    cause = serious_event(participant_id, site_id, event_id)  # type: ignore[arg-type]
    for rule in await uow.alerts.rules(study_id):
        if rule.enabled and rule.kind is AlertKind.SERIOUS_ADVERSE_EVENT:
            now = uow.clock.now()
            alert = Alert.raised(rule, cause, now)
            if await uow.alerts.try_raise(alert, email=rule.email):
                uow.record(audit.created(ctx, grant, alert, _subject(alert)))
                found.append(alert)
                if rule.email:
                    uow.enqueue(Work(NOTIFY_SITE, {"site_id": str(site_id)}))
    return found


async def evaluate(
    *, uows: UnitOfWorkFactory, ctx: RequestContext, study_ids: Sequence[StudyId] | None = None
) -> list[Alert]:
    """The worker's periodic pass over every study with enabled rules (or those given)."""
    if study_ids is None:
        async with _alerts_uow(uows) as uow:
            study_ids = await uow.alerts.studies_with_rules()
    raised: list[Alert] = []
    for study_id in study_ids:
        async with _alerts_uow(uows) as uow:
            for rule in await uow.alerts.rules(study_id):
                if rule.enabled:
                    raised += await _raise(uow, ctx, rule, await _causes(uow, rule))
            await uow.commit()
    await _mail_again(uows)
    return raised


async def _mail_again(uows: UnitOfWorkFactory) -> None:
    """E-mails at least once: a site whose alert e-mail failed (its alerts still wait for
    one) gets another try with every periodic pass."""
    async with _alerts_uow(uows) as uow:
        before = uow.clock.now() - MAIL_AGAIN_AFTER
        for site_id in await uow.alerts.sites_awaiting_mail(before):
            uow.enqueue(Work(NOTIFY_SITE, {"site_id": str(site_id)}))
        await uow.commit()


def _alerts_uow(uows: UnitOfWorkFactory) -> AlertsUnitOfWork:
    """Every unit of work of the composition root has the alert repository."""
    return cast(AlertsUnitOfWork, uows())


async def _causes(uow: AlertsUnitOfWork, rule: AlertRule) -> list[Cause]:
    now = uow.clock.now()
    if rule.kind is AlertKind.READING_OUT_OF_RANGE and rule.reading_kind is not None:
        facts = await uow.alerts.readings_outside(
            rule.study_id,
            rule.id,
            kind=rule.reading_kind,
            low=rule.low,
            high=rule.high,
            limit=BATCH,
        )
        return out_of_range(rule, facts)
    if rule.kind is AlertKind.QUARANTINE_WAITING:
        return quarantine_waiting(
            rule, await uow.alerts.quarantined(rule.study_id, rule.id, BATCH), now
        )
    if rule.kind is AlertKind.VISIT_OVERDUE:
        visits = await uow.alerts.scheduled_visits(rule.study_id, rule.id, now, BATCH)
        return overdue_visits(visits, now)
    if rule.kind is AlertKind.MISSED_DIARIES:
        return await _missed(uow, rule, now)
    return []  # serious adverse events are raised when they are reported


async def _missed(uow: AlertsUnitOfWork, rule: AlertRule, now: datetime) -> list[Cause]:
    ids = await uow.studies.participant_ids(rule.study_id)
    people = [p for p in await uow.participants.get_many(ids) if p.is_active and p.enrolled_on]
    if not people:
        return []
    answered: dict[uuid.UUID, set[tuple[uuid.UUID, str]]] = {}
    for e in await uow.diaries.answered([p.id for p in people]):
        answered.setdefault(e.participant_id, set()).add((e.schedule_id, e.occurrence_key))
    schedules = await uow.diaries.schedules(rule.study_id)
    found = []
    for p in people:
        assert p.enrolled_on is not None
        start = datetime.combine(p.enrolled_on - timedelta(days=2), datetime.min.time(), UTC)
        mine = answered.get(p.id, set())
        facts = [
            DiaryFact(s.id, o.key, o.closes_at, (s.id, o.key) in mine)
            for s, o in await plans.plan(uow, p, start, now, schedules)
        ]
        cause = missed_run(rule, p.id, p.site_id, facts, now)
        if cause is not None:
            found.append(cause)
    return found


# --- e-mail to the site's staff -------------------------------------------------------------


async def notify_site(
    *,
    uows: UnitOfWorkFactory,
    channel: Channel,
    site_id: SiteId,
    console_url: str | None = None,
) -> int:
    """E-mail the site's coordinators and investigators how many new alerts wait: the count
    and the site's name, never who or what. At least once: the alerts are marked mailed in
    the transaction that sends, committed only after every e-mail went out; a failure rolls
    it back (the job fails, visibly), and the next periodic pass tries again. A crash
    between sending and committing means the e-mail goes out twice, never not at all."""
    async with _alerts_uow(uows) as uow:
        site = await uow.sites.get(site_id)
        if site is None:
            return 0
        count = await uow.alerts.claim_unmailed(site.id, uow.clock.now())  # locks the rows
        if not count:
            return 0
        addresses = []
        for user_id in await uow.alerts.site_staff(site.id):
            user = await uow.users.get(user_id)
            if user is not None and "@" in user.email:
                addresses.append(user.email)
        title, body = new_alerts_text(count, site.name, console_url)
        for address in addresses:
            await channel.send(address, Message(f"alerts-{site.id}", title, body, "en"))
        await uow.commit()
    return count
