"""GraphQL types and the mutation for diary submissions: one result per entry sent."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import from_global_id
from api.types.diary_entries import DiaryEntryType
from api.types.receipts import ReceiptType, receipt_of
from domain.diaries import EntryCode, ItemResult, Submission
from domain.errors import DomainError
from domain.ids import ParticipantId
from domain.intake import DIARY_ENTRIES, Outcome
from domain.services import diaries as cases

OutcomeType = strawberry.enum(Outcome, name="SubmissionOutcome")


@strawberry.type(name="AnswerProblem")
class AnswerProblemType:
    item: str
    code: str
    message: str


@strawberry.type(name="DiaryEntryResult")
class DiaryEntryResultType:
    client_id: str
    outcome: Outcome
    code: str | None
    problems: list[AnswerProblemType]
    entry: DiaryEntryType | None

    @classmethod
    def of(cls, r: ItemResult) -> DiaryEntryResultType:
        return cls(
            client_id=str(r.client_id),
            outcome=r.outcome,
            code=str(r.code) if r.code else None,
            problems=[
                AnswerProblemType(item=p.item, code=p.code.value, message=p.message)
                for p in r.problems
            ],
            entry=DiaryEntryType.of(r.entry) if r.entry else None,
        )

    @strawberry.field(
        description="For a stored entry (accepted, quarantined or a resend): its receipt in "
        "the study's log; keep it to ask for an inclusion proof once sealed."
    )
    async def receipt(self, info: Info) -> ReceiptType | None:
        if self.entry is None:
            return None
        return await receipt_of(info, "DiaryEntry", self.entry.entity.id)


@strawberry.input
class DiaryEntryInput:
    client_id: str = strawberry.field(description="A UUID the app makes: sending it again is safe.")
    schedule_id: strawberry.ID
    occurrence_key: str
    questionnaire_code: str
    questionnaire_version: int
    content_hash: str
    answers: JSON
    completed_at: datetime = strawberry.field(description="Device time with its UTC offset.")


@strawberry.input
class SubmitDiaryEntriesInput:
    entries: list[DiaryEntryInput]
    participant_id: strawberry.ID | None = strawberry.field(
        default=None, description="Site staff entering data for a participant (proxy)."
    )
    proxy_reason: str | None = None


@strawberry.type
class SubmitDiaryEntriesSuccess:
    results: list[DiaryEntryResultType]


SubmitDiaryEntriesResult = Annotated[
    SubmitDiaryEntriesSuccess | MutationError, strawberry.union("SubmitDiaryEntriesResult")
]


def _submission(entry: DiaryEntryInput) -> Submission | EntryCode:
    """A submission, or the code that rejects it before the rules are even asked."""
    if entry.completed_at.tzinfo is None:
        return EntryCode.MISSING_OFFSET
    try:
        client_id = uuid.UUID(entry.client_id)
        schedule = from_global_id(entry.schedule_id, "DiarySchedule")[1]
    except (ValueError, DomainError):
        return EntryCode.INVALID_ID
    if not isinstance(entry.answers, dict):
        return EntryCode.INVALID_ANSWERS
    return Submission(
        client_id=client_id,
        schedule_id=schedule,
        occurrence_key=entry.occurrence_key,
        questionnaire_code=entry.questionnaire_code.strip().upper(),
        questionnaire_version=entry.questionnaire_version,
        content_hash=entry.content_hash,
        answers=entry.answers,
        completed_at=entry.completed_at,
    )


@strawberry.type
class DiarySubmissionMutations:
    @strawberry.mutation(
        description="Send diary entries (an offline backlog too): one result each."
    )
    async def submit_diary_entries(
        self, info: Info, input: SubmitDiaryEntriesInput
    ) -> SubmitDiaryEntriesResult:
        async def run() -> SubmitDiaryEntriesSuccess:
            DIARY_ENTRIES.check(len(input.entries))  # before parsing any of them
            prepared = [_submission(e) for e in input.entries]
            valid = [p for p in prepared if isinstance(p, Submission)]
            stored = iter(  # always called: who may submit is decided before any item
                await cases.submit(
                    uow=info.context.services.uow(),
                    ctx=info.context.caller,
                    submissions=valid,
                    participant_id=ParticipantId(
                        from_global_id(input.participant_id, "Participant")[1]
                    )
                    if input.participant_id
                    else None,
                    proxy_reason=input.proxy_reason,
                )
            )
            results = [
                DiaryEntryResultType.of(next(stored))
                if isinstance(p, Submission)
                else DiaryEntryResultType(
                    client_id=e.client_id,
                    outcome=Outcome.REJECTED,
                    code=p.value,
                    problems=[],
                    entry=None,
                )
                for p, e in zip(prepared, input.entries, strict=True)
            ]
            return SubmitDiaryEntriesSuccess(results=results)

        return await attempt(run)
