"""GraphQL mutation for a study's list of reason codes."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.errors import attempt
from api.exposure import expose
from api.relay import from_global_id
from api.types.adverse_events import ReasonCodeType
from api.types.retention import StudyResult, StudySuccess
from api.types.studies import StudyType
from domain.ids import StudyId
from domain.reason_codes import ReasonCode
from domain.services import reason_codes as cases

_ = ReasonCodeType  # the ReasonCode enum is declared once, with adverse events


@strawberry.input
class SetStudyReasonCodesInput:
    study_id: strawberry.ID
    reason_codes: list[ReasonCode] = strawberry.field(
        description="The codes the study allows: at least one, each once, OTHER always."
    )
    reason: str | None = strawberry.field(default=None, description="Why; logged with the change.")


@strawberry.type
class ReasonCodeMutations:
    @strawberry.mutation(
        description="Set which reason codes a study's changes may carry (administrators, "
        "coordinators); audited. Errors: REASON_CODES_EMPTY, REASON_CODE_REPEATED, "
        "REASON_CODE_OTHER_REQUIRED."
    )
    async def set_study_reason_codes(
        self, info: Info, input: SetStudyReasonCodesInput
    ) -> StudyResult:
        async def run() -> StudySuccess:
            study = await cases.set_reason_codes(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=StudyId(from_global_id(input.study_id, "Study")[1]),
                codes=[ReasonCode(c) for c in input.reason_codes],
                reason=input.reason,
            )
            return StudySuccess(study=expose(StudyType, study))

        return await attempt(run)
