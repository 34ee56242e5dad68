"""GraphQL types and mutations for enrolling a participant's phone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api import limits
from api.context import Info
from api.errors import MutationError, attempt
from api.relay import from_global_id, to_global_id
from api.types.auth import Session
from domain.enrolment import Platform
from domain.ids import ParticipantId
from domain.services import enrolment as cases

PlatformType = strawberry.enum(Platform, name="Platform")


@strawberry.type(
    name="EnrolmentCode",
    description="Shown once: give it to the participant, or let the app scan the QR.",
)
class EnrolmentCodeType:
    code: str = strawberry.field(description="20 characters in groups of five.")
    expires_at: datetime
    deep_link: str = strawberry.field(description="hearth://enrol?code=…, for a QR code.")


@strawberry.input
class IssueEnrolmentCodeInput:
    participant_id: strawberry.ID


@strawberry.type
class IssueEnrolmentCodeSuccess:
    enrolment: EnrolmentCodeType


@strawberry.input(description="What the app knows about the phone it runs on.")
class InstallationInput:
    platform: Platform
    model: str
    os_version: str
    app_version: str


@strawberry.input
class EnrolParticipantInput:
    code: str
    installation: InstallationInput


@strawberry.type
class EnrolParticipantSuccess(Session):
    participant_id: strawberry.ID


IssueEnrolmentCodeResult = Annotated[
    IssueEnrolmentCodeSuccess | MutationError, strawberry.union("IssueEnrolmentCodeResult")
]
EnrolParticipantResult = Annotated[
    EnrolParticipantSuccess | MutationError, strawberry.union("EnrolParticipantResult")
]


@strawberry.type
class EnrolmentMutations:
    @strawberry.mutation(description="A single-use enrolment code for a participant (site staff).")
    async def issue_enrolment_code(
        self, info: Info, input: IssueEnrolmentCodeInput
    ) -> IssueEnrolmentCodeResult:
        async def run() -> IssueEnrolmentCodeSuccess:
            issued = await cases.issue_code(
                uow=info.context.services.uow(),
                tokens=info.context.services.tokens,
                ctx=info.context.caller,
                participant_id=ParticipantId(
                    from_global_id(input.participant_id, "Participant")[1]
                ),
            )
            return IssueEnrolmentCodeSuccess(
                enrolment=EnrolmentCodeType(
                    code=issued.code, expires_at=issued.expires_at, deep_link=issued.deep_link
                )
            )

        return await attempt(run)

    @strawberry.mutation(description="The app pairs itself with an enrolment code (no sign-in).")
    async def enrol_participant(
        self, info: Info, input: EnrolParticipantInput
    ) -> EnrolParticipantResult:
        async def run() -> EnrolParticipantSuccess:
            await limits.enforce(info, limits.ENROL_PER_IP, limits.client_address(info))
            device = input.installation
            signed_in = await cases.enrol(
                uow=info.context.services.uow(),
                tokens=info.context.services.tokens,
                ctx=info.context.caller,
                code=input.code,
                platform=Platform(device.platform),
                model=device.model,
                os_version=device.os_version,
                app_version=device.app_version,
            )
            return EnrolParticipantSuccess(
                **Session.of(signed_in).__dict__,
                participant_id=to_global_id("Participant", signed_in.subject_id),
            )

        return await attempt(run)
