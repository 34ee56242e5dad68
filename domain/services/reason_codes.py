"""Use cases for a study's reason codes: the list its designers set, and the codes its
changes carry (each checked against that list)."""

from __future__ import annotations

from collections.abc import Sequence

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import RequestContext
from domain.errors import NotFound
from domain.ids import StudyId
from domain.ports import UnitOfWork
from domain.reason_codes import ReasonCode, given_or_other, reason_code
from domain.studies import Study


async def set_reason_codes(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    codes: Sequence[ReasonCode | str],
    reason: str | None = None,
) -> Study:
    """The study's list (administrators and its coordinators, like the rest of its design);
    audited; the same list again changes nothing."""
    async with uow:
        found = await uow.studies.lock(study_id)
        study = access.visible(
            ctx.actor, Permission.STUDY_READ, found, lambda s: Scope(study_id=s.id), "Study"
        )
        grant = access.require(ctx.actor, Permission.STUDY_DESIGN, Scope(study_id=study.id))
        changed = study.with_reason_codes(codes)
        change = audit.updated(
            ctx,
            grant,
            study,
            changed,
            audit.Subject(study_id=study.id),
            action="reason_codes_set",
            reason=reason,
        )
        if change is None:
            return study
        await uow.studies.update(changed)
        uow.record(change)
        await uow.commit()
    return changed


async def _allowed(uow: UnitOfWork, study_id: StudyId) -> tuple[ReasonCode, ...]:
    study = await uow.studies.get(study_id)
    if study is None:  # pragma: no cover - foreign keys rule this out
        raise NotFound("Study")
    return study.reason_codes


async def required(
    uow: UnitOfWork, study_id: StudyId, value: ReasonCode | str | None
) -> ReasonCode:
    """Inside an open unit of work: the code given, if the study allows it."""
    return reason_code(value, await _allowed(uow, study_id))


async def or_other(
    uow: UnitOfWork, study_id: StudyId, value: ReasonCode | str | None
) -> ReasonCode:
    """Inside an open unit of work: the code given, if the study allows it; OTHER (in every
    study's list) when a client sends only the free text."""
    if value is None:
        return ReasonCode.OTHER
    return given_or_other(value, await _allowed(uow, study_id))
