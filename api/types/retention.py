"""GraphQL types and mutations for a study's retention, its closure and its purge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.exposure import expose
from api.relay import from_global_id
from api.types.studies import StudyType
from domain import retention
from domain.ids import StudyId
from domain.services import retention as cases
from domain.studies import RetentionEvent, Study

RetentionEventType = strawberry.enum(
    RetentionEvent, name="RetentionEvent", description="What a retention period runs from."
)


@strawberry.type(name="StudyRetention", description="How long a study's records are kept.")
class RetentionType:
    years: int = strawberry.field(
        description="Years in force: the study's own, never less than the installation's minimum."
    )
    configured_years: int | None = strawberry.field(
        description="What was set for this study; null: the installation's minimum applies."
    )
    minimum_years: int = strawberry.field(description="The installation's minimum.")
    runs_from: RetentionEvent
    ends_at: datetime | None = strawberry.field(
        description="When the personal data may be purged; null while the study is open."
    )


def retention_of(info: Info, study: Study) -> RetentionType:
    terms = retention.terms(study, info.context.services.settings.min_retention_years)
    return expose(RetentionType, terms)


@strawberry.input
class SetStudyRetentionInput:
    study_id: strawberry.ID
    years: int = strawberry.field(description="Years the records are kept after the event.")
    runs_from: RetentionEvent = RetentionEvent.STUDY_CLOSURE
    reason: str = strawberry.field(description="Why; logged with the change.")


@strawberry.input
class CloseStudyInput:
    study_id: strawberry.ID
    reason: str = strawberry.field(description="e.g. 'Last participant's last visit done'.")


@strawberry.input
class PurgeStudyInput:
    study_id: strawberry.ID
    reason: str = strawberry.field(description="e.g. 'Retention ended; sponsor's request 2051-07'.")


@strawberry.type
class StudySuccess:
    study: StudyType


@strawberry.type
class PurgeStudySuccess:
    study: StudyType
    participants: int = strawberry.field(description="Participants of the study, all shredded.")
    shredded: int = strawberry.field(
        description="Of them, those whose data keys this call destroyed (0 when repeated)."
    )


StudyResult = Annotated[StudySuccess | MutationError, strawberry.union("StudyResult")]
PurgeStudyResult = Annotated[
    PurgeStudySuccess | MutationError, strawberry.union("PurgeStudyResult")
]


def _study_id(raw: strawberry.ID) -> StudyId:
    return StudyId(from_global_id(raw, "Study")[1])


@strawberry.type
class RetentionMutations:
    @strawberry.mutation(
        description="Set how long a study's records are kept (administrators); audited."
    )
    async def set_study_retention(self, info: Info, input: SetStudyRetentionInput) -> StudyResult:
        async def run() -> StudySuccess:
            study = await cases.set_retention(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=_study_id(input.study_id),
                years=input.years,
                runs_from=RetentionEvent(input.runs_from),
                reason=input.reason,
                minimum_years=info.context.services.settings.min_retention_years,
            )
            return StudySuccess(study=expose(StudyType, study))

        return await attempt(run)

    @strawberry.mutation(
        description="Close a study (administrators): it collects nothing new, its retention runs."
    )
    async def close_study(self, info: Info, input: CloseStudyInput) -> StudyResult:
        async def run() -> StudySuccess:
            study = await cases.close_study(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=_study_id(input.study_id),
                reason=input.reason,
            )
            return StudySuccess(study=expose(StudyType, study))

        return await attempt(run)

    @strawberry.mutation(
        description="Crypto-shred the personal data of a closed study's participants once its "
        "retention has elapsed (administrators). Cannot be undone; safe to repeat."
    )
    async def purge_study(self, info: Info, input: PurgeStudyInput) -> PurgeStudyResult:
        async def run() -> PurgeStudySuccess:
            done = await cases.purge_study(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=_study_id(input.study_id),
                reason=input.reason,
                minimum_years=info.context.services.settings.min_retention_years,
            )
            return PurgeStudySuccess(
                study=expose(StudyType, done.study),
                participants=done.participants,
                shredded=done.shredded,
            )

        return await attempt(run)
