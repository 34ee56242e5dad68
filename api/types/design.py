"""GraphQL types and mutations for a study's design: arms and visit definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.exposure import expose
from api.relay import Node, from_global_id
from domain.design import Arm, ContactMode, VisitDefinition
from domain.ids import StudyId
from domain.services import design as cases

ContactModeType = strawberry.enum(ContactMode, name="ContactMode")


@strawberry.type(name="Arm", description="A treatment arm of a study.")
class ArmType(Node):
    code: str
    name: str
    created_at: datetime
    entity: strawberry.Private[Arm]


@strawberry.type(name="VisitDefinition", description="A visit of the schedule of assessments.")
class VisitDefinitionType(Node):
    code: str = strawberry.field(description="At most 8 characters (SDTM VISIT).")
    name: str
    day: int = strawberry.field(description="Days after enrolment (day 0).")
    window_before: int = strawberry.field(description="Days early it may happen.")
    window_after: int = strawberry.field(description="Days late it may happen.")
    modes: list[ContactMode]
    entity: strawberry.Private[VisitDefinition]


@strawberry.input
class CreateArmInput:
    study_id: strawberry.ID
    code: str
    name: str


@strawberry.input
class CreateVisitDefinitionInput:
    study_id: strawberry.ID
    code: str
    name: str
    day: int
    window_before: int = 0
    window_after: int = 0
    modes: list[ContactMode]


@strawberry.type
class CreateArmSuccess:
    arm: ArmType


@strawberry.type
class CreateVisitDefinitionSuccess:
    visit_definition: VisitDefinitionType


CreateArmResult = Annotated[CreateArmSuccess | MutationError, strawberry.union("CreateArmResult")]
CreateVisitDefinitionResult = Annotated[
    CreateVisitDefinitionSuccess | MutationError, strawberry.union("CreateVisitDefinitionResult")
]


def _study(raw: strawberry.ID) -> StudyId:
    return StudyId(from_global_id(raw, "Study")[1])


async def arms_of(info: Info, study_id: StudyId) -> list[ArmType]:
    found = await cases.arms(
        uow=info.context.services.uow(), ctx=info.context.caller, study_id=study_id
    )
    return [expose(ArmType, a) for a in found]


async def definitions_of(info: Info, study_id: StudyId) -> list[VisitDefinitionType]:
    found = await cases.visit_definitions(
        uow=info.context.services.uow(), ctx=info.context.caller, study_id=study_id
    )
    return [expose(VisitDefinitionType, d) for d in found]


@strawberry.type
class DesignMutations:
    @strawberry.mutation(description="Add an arm to a study (study designers).")
    async def create_arm(self, info: Info, input: CreateArmInput) -> CreateArmResult:
        async def run() -> CreateArmSuccess:
            arm = await cases.create_arm(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=_study(input.study_id),
                code=input.code,
                name=input.name,
            )
            return CreateArmSuccess(arm=expose(ArmType, arm))

        return await attempt(run)

    @strawberry.mutation(description="Add a visit to the schedule of assessments.")
    async def create_visit_definition(
        self, info: Info, input: CreateVisitDefinitionInput
    ) -> CreateVisitDefinitionResult:
        async def run() -> CreateVisitDefinitionSuccess:
            definition = await cases.create_visit_definition(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=_study(input.study_id),
                code=input.code,
                name=input.name,
                day=input.day,
                window_before=input.window_before,
                window_after=input.window_after,
                modes=tuple(ContactMode(m) for m in input.modes),
            )
            return CreateVisitDefinitionSuccess(
                visit_definition=expose(VisitDefinitionType, definition)
            )

        return await attempt(run)
