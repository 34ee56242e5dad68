"""Use cases for questionnaires: publish versions, read them."""

from __future__ import annotations

from collections.abc import Sequence

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import RequestContext, Role
from domain.errors import AlreadyExists, NotFound
from domain.ids import StudyId, new_id
from domain.ports import UnitOfWork
from domain.questionnaires import PublishedQuestionnaire, QuestionnaireDraft, publish


async def publish_version(
    *, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId, draft: QuestionnaireDraft
) -> PublishedQuestionnaire:
    """The next version of a questionnaire; identical content is refused, not republished."""
    grant = access.require(ctx.actor, Permission.STUDY_DESIGN, Scope(study_id=study_id))
    async with uow:
        if await uow.studies.get(study_id) is None:
            raise NotFound("Study")
        existing = [q.definition for q in await uow.questionnaires.all(study_id)]
        same_code = [v for v in existing if v.code == draft.code.strip().upper()]
        definition = publish(draft, max((v.version for v in same_code), default=0) + 1)
        if same_code and same_code[-1].content_hash == definition.content_hash:
            raise AlreadyExists(
                f"Version {same_code[-1].version} with the same content", field="items"
            )
        published = PublishedQuestionnaire(new_id(), study_id, definition, uow.clock.now())
        await uow.questionnaires.add(published)
        uow.record(audit.created(ctx, grant, published, audit.Subject(study_id=study_id)))
        await uow.commit()
    return published


async def versions(
    *, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId
) -> Sequence[PublishedQuestionnaire]:
    """Staff of the study and its participants (their app renders the diaries)."""
    if not any(g.role is Role.PARTICIPANT and g.study_id == study_id for g in ctx.actor.grants):
        access.require(ctx.actor, Permission.STUDY_READ, Scope(study_id=study_id))
    async with uow:
        return await uow.questionnaires.all(study_id)
