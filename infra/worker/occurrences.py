"""The diary planning tasks: replan one participant, or every plan of a study."""

from __future__ import annotations

import uuid

from domain.actors import RequestContext
from domain.ids import ParticipantId, StudyId
from domain.services import occurrences as cases
from infra.worker.services import WorkerServices


async def replan(services: WorkerServices, ctx: RequestContext, *, participant_id: str) -> None:
    await cases.replan(services.uows, ctx, ParticipantId(uuid.UUID(participant_id)))


async def replan_study(services: WorkerServices, ctx: RequestContext, *, study_id: str) -> None:
    await cases.replan_study(services.uows, ctx, StudyId(uuid.UUID(study_id)))
