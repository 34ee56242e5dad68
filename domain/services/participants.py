"""Use cases for participants: registration, lifecycle, and reads scoped to the caller."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import ActorKind, RequestContext
from domain.consent import Withdrawal, ensure_can_collect
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ArmId, ParticipantId, SiteId
from domain.pagination import Page, PageRequest
from domain.participants import Participant, ParticipantStatus
from domain.ports import UnitOfWork
from domain.reason_codes import ReasonCode, coded
from domain.schedules import ZoneChange
from domain.services import occurrences as plans
from domain.services import reason_codes
from domain.services.studies import require_open, site_scope

_SUBJECT_ID_ATTEMPTS = 5


def participant_scope(p: Participant) -> Scope:
    return Scope(study_id=p.study_id, site_id=p.site_id, participant_id=p.id)


def _subject(p: Participant) -> audit.Subject:
    return audit.Subject(study_id=p.study_id, site_id=p.site_id, participant_id=p.id)


async def register_participant(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    site_id: SiteId,
    screening_number: str,
    timezone: str | None = None,
) -> Participant:
    async with uow:
        found = await uow.sites.get(site_id)
        site = access.visible(ctx.actor, Permission.SITE_READ, found, site_scope, "Site")
        grant = access.require(ctx.actor, Permission.PARTICIPANT_REGISTER, site_scope(site))
        await require_open(uow, site.study_id)
        participant = Participant.register(
            study_id=site.study_id,
            site_id=site.id,
            screening_number=screening_number,
            timezone=timezone or site.timezone,
            now=uow.clock.now(),
        )
        participant = await _insert_with_unique_subject_id(uow, participant)
        uow.record(audit.created(ctx, grant, participant, _subject(participant)))
        await uow.commit()
    return participant


async def _insert_with_unique_subject_id(uow: UnitOfWork, participant: Participant) -> Participant:
    # Subject ids are short random strings; on the rare collision, draw another.
    for _ in range(_SUBJECT_ID_ATTEMPTS):
        if await uow.participants.try_add(participant):
            return participant
        participant = participant.with_new_subject_id()
    raise DomainError(ErrorCode.ALREADY_EXISTS, "Could not allocate a unique subject id.")


async def change_status(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    status: ParticipantStatus,
    reason: str | None,
    expected_version: int | None = None,
    covers_collected_data: bool = False,
    code: ReasonCode | str | None = None,
) -> Participant:
    """Complete or withdraw a participant; every change needs a reason, and carries a reason
    code (OTHER when a client sends only the free text).

    Consent (signConsent) and enrolment in an arm (enrolInStudy) have their own use cases.
    A withdrawal keeps what the app collected before it, even when that arrives later, unless
    `covers_collected_data` says the participant withdrew the use of such data too; the
    choice is stored and logged with the status change.
    """
    if covers_collected_data and status is not ParticipantStatus.WITHDRAWN:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            "Only a withdrawal can cover data already collected.",
            field="covers_collected_data",
        )
    async with uow:
        current = await uow.participants.get(participant_id)
        current = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, current, participant_scope, "Participant"
        )
        grant = access.require(ctx.actor, Permission.PARTICIPANT_UPDATE, participant_scope(current))
        why_code = await reason_codes.or_other(uow, current.study_id, code)
        if status not in (ParticipantStatus.COMPLETED, ParticipantStatus.WITHDRAWN):
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "Participants consent in the app and are enrolled into an arm; "
                "this changes to COMPLETED or WITHDRAWN only.",
                field="status",
            )
        _check_version(current.version, expected_version)
        changed = current.move_to(status, uow.clock.now())
        change = audit.updated(
            ctx, grant, current, changed, _subject(current), action="status_changed", reason=reason
        )
        await uow.participants.update(changed)
        if status is ParticipantStatus.WITHDRAWN:
            withdrawal = Withdrawal(changed.id, changed.status_changed_at, covers_collected_data)
            await uow.consents.add_withdrawal(withdrawal, changed.study_id)
            change = _with_scope(change, withdrawal)
        if change is not None:
            uow.record(coded(change, why_code))
        await uow.commit()
    return changed


def _with_scope(change: audit.Change | None, withdrawal: Withdrawal) -> audit.Change | None:
    """The withdrawal's reach is part of the audited status change."""
    if change is None:
        return None
    scope = audit.FieldChange("covers_collected_data", None, withdrawal.covers_collected_data)
    return dataclasses.replace(change, fields=(*change.fields, scope))


def _check_version(actual: int, expected: int | None) -> None:
    if expected is not None and expected != actual:
        raise DomainError(
            ErrorCode.STALE_VERSION,
            "The record changed since you read it; reload and try again.",
            field="expected_version",
        )


async def get_participant(
    *, uow: UnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> Participant:
    async with uow:
        found = await uow.participants.get(participant_id)
    return access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
    )


def screening_number_of(ctx: RequestContext, participant: Participant) -> str | None:
    """The screening number identifies the person: the participant and their site staff."""
    scope = participant_scope(participant)
    access.require_field(ctx.actor, Participant.ENTITY, "screening_number", scope)
    return participant.screening_number


async def get_participants(
    *, uow: UnitOfWork, ctx: RequestContext, ids: Sequence[ParticipantId]
) -> Sequence[Participant | None]:
    """Batched lookup for loaders: each id maps to its participant, or None if not visible."""
    async with uow:
        found = {p.id: p for p in await uow.participants.get_many(ids)}
    return [
        p
        if (p := found.get(i))
        and access.allows(ctx.actor, Permission.PARTICIPANT_READ, participant_scope(p))
        else None
        for i in ids
    ]


async def page_participants(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    site_ids: Sequence[SiteId],
    status: ParticipantStatus | None,
    request: PageRequest,
) -> Page[Participant]:
    visible = access.read_filter(ctx.actor, Permission.PARTICIPANT_READ)
    if visible.nothing:
        return Page(items=[], has_next_page=False)
    async with uow:
        return await uow.participants.page(
            site_ids=site_ids, visible=visible, status=status, request=request
        )


async def enrol_in_arm(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    arm_id: uuid.UUID,
    expected_version: int | None = None,
) -> Participant:
    """A consented participant joins an arm; their schedule starts today (their local date)."""
    async with uow:
        current = await uow.participants.lock(participant_id)
        current = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, current, participant_scope, "Participant"
        )
        grant = access.require(ctx.actor, Permission.PARTICIPANT_UPDATE, participant_scope(current))
        _check_version(current.version, expected_version)
        arm = await uow.design.arm(ArmId(arm_id))
        if arm is None or arm.study_id != current.study_id:
            raise NotFound("Arm")
        await require_current_consent(uow, current)
        enrolled = current.enrolled(arm.id, uow.clock.now())
        await uow.participants.update(enrolled)
        await plans.participant_changed(uow, enrolled.id, first=True)
        change = audit.updated(
            ctx, grant, current, enrolled, _subject(current), action="enrolled", reason="Enrolled"
        )
        if change is not None:
            uow.record(change)
        await uow.commit()
    return enrolled


async def report_timezone(*, uow: UnitOfWork, ctx: RequestContext, timezone: str) -> Participant:
    """The app reports the phone's time zone; schedules follow it from the next occurrence."""
    actor = ctx.actor
    if actor.kind is not ActorKind.PARTICIPANT or actor.id is None:
        raise DomainError(ErrorCode.FORBIDDEN, "Only the participant's app reports its time zone.")
    async with uow:
        current = await uow.participants.lock(ParticipantId(actor.id))
        if current is None:
            raise NotFound("Participant")
        grant = access.require(actor, Permission.DATA_SUBMIT, participant_scope(current))
        if current.timezone == timezone.strip():
            return current
        moved = current.in_zone(timezone)
        now = uow.clock.now()
        await uow.participants.update(moved)
        await uow.participants.add_zone(
            moved.id, ZoneChange(effective_from=now, timezone=moved.timezone)
        )
        await plans.participant_changed(uow, moved.id)
        change = audit.updated(
            ctx,
            grant,
            current,
            moved,
            _subject(current),
            action="timezone_changed",
            reason="Reported by the app",
        )
        if change is not None:
            uow.record(change)
        await uow.commit()
    return moved


async def require_current_consent(uow: UnitOfWork, participant: Participant) -> None:
    """Inside an open unit of work: refuse new data without a current consent."""
    latest = await uow.consents.latest_version(participant.study_id)
    consent = await uow.consents.latest_consent(participant.id)
    ensure_can_collect(participant, latest, consent)
