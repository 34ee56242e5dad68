"""Use cases for a study's design: arms and visit definitions."""

from __future__ import annotations

from collections.abc import Sequence

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import Grant, RequestContext
from domain.design import Arm, ContactMode, VisitDefinition
from domain.errors import NotFound
from domain.ids import StudyId
from domain.ports import UnitOfWork


async def _designable(uow: UnitOfWork, ctx: RequestContext, study_id: StudyId) -> Grant:
    grant = access.require(ctx.actor, Permission.STUDY_DESIGN, Scope(study_id=study_id))
    if await uow.studies.get(study_id) is None:
        raise NotFound("Study")
    return grant


async def create_arm(
    *, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId, code: str, name: str
) -> Arm:
    async with uow:
        grant = await _designable(uow, ctx, study_id)
        arm = Arm.new(study_id=study_id, code=code, name=name, now=uow.clock.now())
        await uow.design.add_arm(arm)
        uow.record(audit.created(ctx, grant, arm, audit.Subject(study_id=study_id)))
        await uow.commit()
    return arm


async def create_visit_definition(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    code: str,
    name: str,
    day: int,
    window_before: int,
    window_after: int,
    modes: tuple[ContactMode, ...],
) -> VisitDefinition:
    async with uow:
        grant = await _designable(uow, ctx, study_id)
        definition = VisitDefinition.new(
            study_id=study_id,
            code=code,
            name=name,
            day=day,
            window_before=window_before,
            window_after=window_after,
            modes=modes,
            now=uow.clock.now(),
        )
        await uow.design.add_visit_definition(definition)
        uow.record(audit.created(ctx, grant, definition, audit.Subject(study_id=study_id)))
        await uow.commit()
    return definition


async def arms(*, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId) -> Sequence[Arm]:
    access.require(ctx.actor, Permission.STUDY_READ, Scope(study_id=study_id))
    async with uow:
        return await uow.design.arms(study_id)


async def visit_definitions(
    *, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId
) -> Sequence[VisitDefinition]:
    access.require(ctx.actor, Permission.STUDY_READ, Scope(study_id=study_id))
    async with uow:
        return await uow.design.visit_definitions(study_id)
