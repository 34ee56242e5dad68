"""Reminders: the plan a participant's app schedules offline, and the worker's sends.

Both come from the same rules (`domain.reminders`) over the same occurrences, so the app's
local notifications and the server's pushes agree. The worker claims each reminder once per
(occurrence, rule) in its own committed transaction before any channel is tried; a claim
that exists already means another worker (or an earlier run) has it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from domain import access, reminders
from domain.access import ReadFilter
from domain.actors import RequestContext
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, new_id
from domain.notifications import (
    DIARY_CLOSING,
    DIARY_DUE,
    DIARY_MISSED,
    VISIT_DUE,
    Channel,
    Expired,
    Notification,
    State,
    Template,
)
from domain.pagination import PageRequest
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.ports.notifications import NotificationRepository
from domain.records import VisitFilter
from domain.reminders import Policy, QuietHours, Reminder, ReminderRule, When
from domain.schedules import Occurrence, ZoneChange, zone_at
from domain.services import occurrences as plans
from domain.services.participants import participant_scope
from domain.visits import VisitStatus

# Until studies configure their own: at due time, 30 minutes before closing, and the next
# morning at 08:00 if missed; nothing between 21:00 and 07:30 local time; six a day at most.
DEFAULT_POLICY = Policy(
    rules=(
        ReminderRule("due", When.AT_DUE),
        ReminderRule("closing", When.BEFORE_CLOSE, minutes=30),
        ReminderRule("missed", When.NEXT_MORNING, morning=time(8, 0)),
    ),
    quiet=QuietHours(time(21, 0), time(7, 30)),
    daily_cap=6,
)
VISIT_RULE = "visit"
VISIT_NOTICE = timedelta(hours=24)  # a scheduled visit is announced a day ahead
TEMPLATES: Mapping[str, Template] = {
    "due": DIARY_DUE,
    "closing": DIARY_CLOSING,
    "missed": DIARY_MISSED,
    VISIT_RULE: VISIT_DUE,
}
# A study's own rules have codes of their own: their text follows what kind of rule it is.
_BY_WHEN: Mapping[When, Template] = {
    When.AT_DUE: DIARY_DUE,
    When.BEFORE_CLOSE: DIARY_CLOSING,
    When.NEXT_MORNING: DIARY_MISSED,
}


def template_of(reminder: Reminder) -> Template:
    """The text a reminder is sent with: by its kind of rule, or the visit's."""
    if reminder.when is None:
        return TEMPLATES[reminder.rule]
    return _BY_WHEN[reminder.when]


MAX_PLAN_DAYS = 14
# Reminders whose instant passed this long ago without a send (a worker was down) are dropped.
CATCH_UP = timedelta(hours=2)
# Occurrences this far back may still have a reminder ahead (next morning after a late close).
_LOOKBACK = timedelta(days=2)
LEASE = timedelta(minutes=5)  # a worker that took a notification has this long to send it
MAX_ATTEMPTS = 3
RETRY_DELAY = timedelta(minutes=2)
FALLBACK_LANGUAGE = "en"


class NotifyingUnitOfWork(UnitOfWork, Protocol):
    @property
    def notifications(self) -> NotificationRepository: ...


@dataclass(frozen=True)
class _Keyed(Occurrence):
    """An occurrence keyed by its schedule too: two diaries due at 09:00 are two reminders."""

    schedule: str = ""

    @property
    def key(self) -> str:
        return f"{self.schedule}/{super().key}"


@dataclass(frozen=True)
class Plan:
    reminders: Sequence[Reminder]
    version: str
    timezone: str  # the participant's zone now
    language: str  # of their latest consent: the reminders' language


async def _reminders(
    uow: UnitOfWork, participant: Participant, start: datetime, end: datetime
) -> list[Reminder]:
    planned = await plans.plan(uow, participant, start - _LOOKBACK, end)
    answered = {
        f"{e.schedule_id}/{e.occurrence_key}" for e in await uow.diaries.answered([participant.id])
    }
    # Schedules with the default policy share it (and its daily cap); a schedule with the
    # study's own policy has its own rules, quiet hours and cap.
    groups: dict[uuid.UUID | None, tuple[Policy, list[_Keyed]]] = {}
    for s, o in planned:
        key = None if s.reminders is None else s.id
        policy = DEFAULT_POLICY if s.reminders is None else s.reminders
        keyed = _Keyed(o.local_date, o.local_time, o.timezone, o.due_at, o.closes_at, str(s.id))
        groups.setdefault(key, (policy, []))[1].append(keyed)
    history = await uow.participants.zones(participant.id)
    found: list[Reminder] = []
    for policy, occurrences in groups.values():
        found += reminders.plan(
            policy, occurrences, history, start=start, end=end, answered=frozenset(answered)
        )
    found += await _visit_reminders(uow, participant, history, start, end)
    return sorted(found, key=lambda r: (r.at, r.key))


async def _visit_reminders(
    uow: UnitOfWork,
    participant: Participant,
    history: Sequence[ZoneChange],
    start: datetime,
    end: datetime,
) -> list[Reminder]:
    """A day before each scheduled visit (quiet hours applied; none once it has begun). The
    key holds the start, so a rescheduled visit is announced again."""
    page = await uow.visits.page(
        VisitFilter(
            participant_id=participant.id, status=VisitStatus.SCHEDULED, upcoming_from=start
        ),
        ReadFilter(everything=True),
        PageRequest(first=100),
    )
    found = []
    for visit in page.items:
        at = visit.starts_at - VISIT_NOTICE
        zone = ZoneInfo(zone_at(history, at))
        if DEFAULT_POLICY.quiet is not None:
            at = DEFAULT_POLICY.quiet.defer(at, zone)
            zone = ZoneInfo(zone_at(history, at))
        if start <= at < end and at < visit.starts_at:
            key = f"visit:{visit.id}@{visit.starts_at:%Y-%m-%dT%H:%MZ}"
            found.append(Reminder(key, VISIT_RULE, at, at.astimezone(zone), visit.starts_at))
    return found


async def notification_plan(
    *, uow: UnitOfWork, ctx: RequestContext, participant_id: ParticipantId, days: int
) -> Plan:
    """The reminders of the coming `days`, for the app to schedule while it is offline."""
    if not 1 <= days <= MAX_PLAN_DAYS:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, f"Ask for 1 to {MAX_PLAN_DAYS} days.", field="days"
        )
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, access.Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        now = uow.clock.now()
        found_reminders = (
            await _reminders(uow, participant, now, now + timedelta(days=days))
            if participant.is_active
            else []
        )
        language = await _language(uow, participant)
    version = reminders.version(found_reminders)
    return Plan(found_reminders, version, participant.timezone, language)


async def _language(uow: UnitOfWork, participant: Participant) -> str:
    consent = await uow.consents.latest_consent(participant.id)
    return consent.language if consent is not None else FALLBACK_LANGUAGE


@dataclass(frozen=True)
class SendReport:
    claimed: int  # new reminders claimed by this run
    sent: int
    retried: int
    failed: int


NotifyingUnitOfWorkFactory = Callable[[], NotifyingUnitOfWork]
_BY_CODE: Mapping[str, Template] = {t.code: t for t in TEMPLATES.values()}


async def send_due(
    *, uows: NotifyingUnitOfWorkFactory, channels: Mapping[str, Channel], batch: int = 200
) -> SendReport:
    """One tick of the worker: claim the reminders now due, then deliver what is queued."""
    claimed = await claim_due(uows)
    sent = retried = failed = 0
    while True:
        uow = uows()
        async with uow:
            now = uow.clock.now()
            leased = await uow.notifications.lease(now, now + LEASE, batch)
            await uow.commit()
        for notification in leased:
            outcome = await _deliver(uows, channels, notification)
            sent += outcome.state is State.SENT
            failed += outcome.state is State.FAILED
            retried += outcome.state is State.QUEUED
        if len(leased) < batch:
            return SendReport(claimed, sent, retried, failed)


async def claim_due(uows: NotifyingUnitOfWorkFactory) -> int:
    """Claim, once per (occurrence, rule), every reminder whose instant has come (and is not
    older than `CATCH_UP`), each participant in a transaction of its own."""
    uow = uows()
    async with uow:
        now = uow.clock.now()
        people = await uow.notifications.remindable()
    claimed = 0
    for participant_id in people:
        uow = uows()
        async with uow:
            participant = await uow.participants.get(participant_id)
            if participant is None or not participant.is_active:
                continue
            language = await _language(uow, participant)
            due = await _reminders(uow, participant, now - CATCH_UP, now + _TICK)
            for reminder in due:
                template = template_of(reminder)
                notification = Notification(
                    id=new_id(),
                    participant_id=participant.id,
                    study_id=participant.study_id,
                    site_id=participant.site_id,
                    send_key=reminder.key,
                    template=template.code,
                    template_version=template.version,
                    language=language,
                    planned_at=reminder.at,
                    created_at=now,
                    next_attempt_at=now,
                )
                claimed += await uow.notifications.claim(notification)
            await uow.commit()
    return claimed


_TICK = timedelta(microseconds=1)


async def _deliver(
    uows: NotifyingUnitOfWorkFactory, channels: Mapping[str, Channel], notification: Notification
) -> Notification:
    """Try the participant's push subscriptions, then their e-mail; record the outcome."""
    participant_id = ParticipantId(notification.participant_id)
    uow = uows()
    async with uow:
        subscriptions = (
            await uow.notifications.subscriptions(participant_id) if "webpush" in channels else []
        )
        contact = await uow.contacts.get(participant_id) if "email" in channels else None
    message = _BY_CODE[notification.template].render(notification.language, str(notification.id))
    targets: list[tuple[str, str, str | None]] = [
        ("webpush", s.address(), s.endpoint) for s in subscriptions
    ]
    if contact is not None and contact.email:
        targets.append(("email", contact.email, None))
    delivered: str | None = None
    gone: list[str] = []
    trouble: str | None = None
    for channel, address, endpoint in targets:
        try:
            await channels[channel].send(address, message)
        except Expired:
            if endpoint is not None:
                gone.append(endpoint)
            continue
        except Exception as failure:  # any channel failure is worth another attempt
            trouble = f"{channel}: {type(failure).__name__}"
            continue
        delivered = channel
        break
    uow = uows()
    async with uow:
        now = uow.clock.now()
        for endpoint in gone:
            await uow.notifications.unsubscribe(participant_id, endpoint)
        attempts = notification.attempts + 1
        if delivered is not None:
            outcome = replace(notification, attempts=attempts, channel=delivered)
            outcome = outcome.moved(State.SENT, now)
        elif trouble is not None and attempts < MAX_ATTEMPTS:
            outcome = replace(
                notification, attempts=attempts, reason=trouble, next_attempt_at=now + RETRY_DELAY
            )
        else:
            reason = trouble or ("subscription expired" if gone else "no channel to reach")
            outcome = replace(notification, attempts=attempts).moved(
                State.FAILED, now, reason=reason
            )
        await uow.notifications.save(outcome)
        await uow.commit()
    return outcome
