"""Use cases for a study's end of life: its retention, its closure, and the purge after it.

Administrators set how long a study's records are kept (never below the installation's
minimum) and close the study when it has ended. Once the retention has elapsed, a purge
crypto-shreds every participant's data key with the same mechanism as a single erasure:
identifiers and free text become unreadable, pseudonymous data and the log stay verifiable.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import access, audit, retention
from domain.access import Permission, Scope
from domain.actors import Grant, RequestContext
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, StudyId
from domain.ports import UnitOfWork
from domain.services import contacts
from domain.studies import RetentionEvent, Study


@dataclass(frozen=True)
class Purge:
    study: Study
    participants: int  # the study's participants: none of their personal data is readable
    shredded: int  # of them, those whose data keys this purge destroyed (0 when repeated)


def _scope(study: Study) -> Scope:
    return Scope(study_id=study.id)


def _reason(reason: str | None, what: str) -> str:
    why = audit.normalise_reason(reason)
    if why is None:
        raise DomainError(ErrorCode.REASON_REQUIRED, f"{what} needs a reason.", field="reason")
    return why


def _managed(
    ctx: RequestContext, found: Study | None, permission: Permission
) -> tuple[Study, Grant]:
    study = access.visible(ctx.actor, Permission.STUDY_READ, found, _scope, "Study")
    return study, access.require(ctx.actor, permission, _scope(study))


async def set_retention(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    years: int,
    reason: str | None,
    minimum_years: int,
    runs_from: RetentionEvent = RetentionEvent.STUDY_CLOSURE,
) -> Study:
    """A configuration change, logged with its reason; the same value again changes nothing."""
    why = _reason(reason, "Changing a study's retention")
    async with uow:
        study, grant = _managed(ctx, await uow.studies.lock(study_id), Permission.STUDY_RETENTION)
        retention.validated_years(years, minimum_years)
        if study.purged_at is not None:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "This study was purged: its retention is over."
            )
        changed = study.with_retention(years, runs_from)
        subject = audit.Subject(study_id=study.id)
        change = audit.updated(
            ctx, grant, study, changed, subject, action="retention_set", reason=why
        )
        if change is None:
            return study
        await uow.studies.update(changed)
        uow.record(change)
        await uow.commit()
    return changed


async def close_study(
    *, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId, reason: str | None
) -> Study:
    """End the study: from now on it collects nothing, and its retention runs.

    Refused while participants still take part or visits are still scheduled. Data being
    submitted at this moment either commits before the closure or is refused after it.
    """
    why = _reason(reason, "Closing a study")
    async with uow:
        found = await uow.studies.lock_for_closing(study_id)
        study, grant = _managed(ctx, found, Permission.STUDY_RETENTION)
        closed = study.closed(uow.clock.now())
        (await uow.studies.open_work(study.id)).require_none()
        await uow.studies.update(closed)
        uow.record(_closed(ctx, grant, closed, why))
        await uow.commit()
    return closed


async def purge_study(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    reason: str | None,
    minimum_years: int,
) -> Purge:
    """Crypto-shred the personal data of every participant of a closed study whose retention
    has elapsed (by the unit of work's clock). Repeating it is safe and changes nothing."""
    why = _reason(reason, "Purging a study")
    async with uow:
        study, grant = _managed(ctx, await uow.studies.lock(study_id), Permission.STUDY_PURGE)
        now = uow.clock.now()
        retention.require_elapsed(study, minimum_years, now)
        ids = await uow.studies.participant_ids(study.id)
        shredded = [pid for pid in ids if await _shred(uow, ctx, grant, pid, why)]
        purged = study.purged(now) if study.purged_at is None else study
        if purged is not study:
            await uow.studies.update(purged)
        if purged is not study or shredded:  # a repeat that found nothing changes nothing
            uow.record(_purged(ctx, grant, study, purged, shredded=len(shredded), why=why))
            await uow.commit()
    return Purge(study=purged, participants=len(ids), shredded=len(shredded))


async def _shred(
    uow: UnitOfWork, ctx: RequestContext, grant: Grant, participant_id: ParticipantId, why: str
) -> bool:
    """One participant, by the erasure mechanism; False if nothing was left to destroy."""
    participant = await uow.participants.lock(participant_id)
    if participant is None:
        return False
    if participant.erased_at is not None:
        # Erased before: only a key generation made since (for a later reason) can remain.
        return await uow.keys.destroy(participant.id)
    erased = await contacts.shred(uow, participant)
    uow.record(
        contacts.erasure(ctx, grant, erased, why, audit.FieldChange("study_purged", None, True))
    )
    return True


def _closed(ctx: RequestContext, grant: Grant, closed: Study, why: str) -> audit.Change:
    when = audit.FieldChange("closed_at", None, audit.to_json(closed.closed_at))
    return _event(ctx, grant, closed, "closed", why, when)


def _purged(
    ctx: RequestContext, grant: Grant, before: Study, after: Study, *, shredded: int, why: str
) -> audit.Change:
    when = audit.FieldChange(
        "purged_at", audit.to_json(before.purged_at), audit.to_json(after.purged_at)
    )
    count = audit.FieldChange("participants_shredded", None, shredded)
    return _event(ctx, grant, after, "purged", why, when, count)


def _event(
    ctx: RequestContext,
    grant: Grant,
    study: Study,
    action: str,
    why: str,
    *fields: audit.FieldChange,
) -> audit.Change:
    return audit.Change(
        entity_type=study.ENTITY,
        entity_id=study.id,
        action=action,
        fields=fields,
        actor=ctx.actor,
        role=grant.role,
        origin=ctx.origin,
        subject=audit.Subject(study_id=study.id),
        reason=why,
    )
