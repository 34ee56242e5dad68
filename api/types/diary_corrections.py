"""GraphQL types and the mutation for diary corrections by site staff."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import from_global_id
from api.types.diary_entries import DiaryEntryType
from domain.errors import DomainError, ErrorCode
from domain.reason_codes import ReasonCode
from domain.services import diaries as cases


@strawberry.input
class CorrectDiaryEntryInput:
    entry_id: strawberry.ID
    changes: JSON = strawberry.field(description="Item code -> new answer (null clears it).")
    reason: str
    reason_code: ReasonCode | None = strawberry.field(
        default=None,
        description="Why, coded (the study's list); OTHER when only the free text is sent.",
    )


@strawberry.type
class CorrectDiaryEntrySuccess:
    entry: DiaryEntryType


CorrectDiaryEntryResult = Annotated[
    CorrectDiaryEntrySuccess | MutationError, strawberry.union("CorrectDiaryEntryResult")
]


@strawberry.type
class DiaryCorrectionMutations:
    @strawberry.mutation(description="Correct submitted answers (site staff), with a reason.")
    async def correct_diary_entry(
        self, info: Info, input: CorrectDiaryEntryInput
    ) -> CorrectDiaryEntryResult:
        async def run() -> CorrectDiaryEntrySuccess:
            if not isinstance(input.changes, dict):
                raise DomainError(
                    ErrorCode.VALIDATION_FAILED,
                    "Give changes as an object of item codes.",
                    field="changes",
                )
            entry = await cases.correct_entry(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                entry_id=from_global_id(input.entry_id, "DiaryEntry")[1],
                changes=dict(input.changes),
                reason=input.reason,
                code=input.reason_code,
            )
            return CorrectDiaryEntrySuccess(entry=DiaryEntryType.of(entry))

        return await attempt(run)
