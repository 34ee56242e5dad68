"""GraphQL types and mutations for participants' direct identifiers."""

from __future__ import annotations

from datetime import date
from typing import Annotated, TypeVar

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.exposure import expose
from api.relay import from_global_id
from api.types.participants import ParticipantType
from domain.contacts import KEEP, ContactDetails, ContactField, Keep
from domain.ids import ParticipantId, StudyId
from domain.reason_codes import ReasonCode
from domain.services import contacts as cases

ContactFieldType = strawberry.enum(ContactField, name="ContactField")
T = TypeVar("T")


@strawberry.type(
    name="ContactDetails",
    description="Direct identifiers: visible to the participant and their site staff only.",
)
class ContactDetailsType:
    full_name: str | None
    email: str | None
    phone: str | None
    date_of_birth: date | None
    address: str | None
    version: int
    entity: strawberry.Private[ContactDetails]


async def contact_of(info: Info, participant_id: ParticipantId) -> ContactDetailsType | None:
    found = await cases.get_contact(
        uow=info.context.services.uow(), ctx=info.context.caller, participant_id=participant_id
    )
    return expose(ContactDetailsType, found) if found else None


_KEPT = "Left out: stays as it is. null or blank: empties it (needs a reason)."


@strawberry.input(
    description="Only the fields you send change; emptying a field with a value needs a reason."
)
class SetParticipantContactInput:
    participant_id: strawberry.ID
    full_name: str | None = strawberry.field(default=strawberry.UNSET, description=_KEPT)
    email: str | None = strawberry.field(default=strawberry.UNSET, description=_KEPT)
    phone: str | None = strawberry.field(default=strawberry.UNSET, description=_KEPT)
    date_of_birth: date | None = strawberry.field(default=strawberry.UNSET, description=_KEPT)
    address: str | None = strawberry.field(default=strawberry.UNSET, description=_KEPT)
    reason: str | None = strawberry.field(
        default=None,
        description="Why; required to empty a field (the old value stays in the trail: "
        "redactParticipantContact removes a value entered by mistake).",
    )
    expected_version: int | None = strawberry.field(
        default=None, description="The version you read (0 if there were no details yet)."
    )


def _given(value: T) -> T | Keep:
    """strawberry tells a field left out (UNSET) from an explicit null."""
    return KEEP if value is strawberry.UNSET else value


@strawberry.input
class RedactParticipantContactInput:
    participant_id: strawberry.ID
    field: ContactField
    reason: str = strawberry.field(description="Why the value must go; logged with the redaction.")
    reason_code: ReasonCode | None = strawberry.field(
        default=None,
        description="Why, coded (the study's list); OTHER when only the free text is sent.",
    )
    replacement: str | None = strawberry.field(default=None, description="The correct value.")


@strawberry.input
class EraseParticipantInput:
    participant_id: strawberry.ID
    legal_basis: str = strawberry.field(description="e.g. 'GDPR Art. 17(1)(b), request 2026-114'.")


@strawberry.type
class ContactSuccess:
    contact: ContactDetailsType


@strawberry.type
class EraseParticipantSuccess:
    participant: ParticipantType


ContactResult = Annotated[ContactSuccess | MutationError, strawberry.union("ContactResult")]
EraseParticipantResult = Annotated[
    EraseParticipantSuccess | MutationError, strawberry.union("EraseParticipantResult")
]


def _participant_id(raw: strawberry.ID) -> ParticipantId:
    return ParticipantId(from_global_id(raw, "Participant")[1])


@strawberry.type
class ContactQueries:
    @strawberry.field(description="Participants of a study with this e-mail or phone number.")
    async def find_participants_by_contact(
        self,
        info: Info,
        study_id: strawberry.ID,
        email: str | None = None,
        phone: str | None = None,
    ) -> list[ParticipantType]:
        found = await cases.find_by_contact(
            uow=info.context.services.uow(),
            ctx=info.context.caller,
            study_id=StudyId(from_global_id(study_id, "Study")[1]),
            email=email,
            phone=phone,
        )
        return [expose(ParticipantType, p) for p in found]


@strawberry.type
class ContactMutations:
    @strawberry.mutation(
        description="Record or correct a participant's contact details; fields left out stay."
    )
    async def set_participant_contact(
        self, info: Info, input: SetParticipantContactInput
    ) -> ContactResult:
        async def run() -> ContactSuccess:
            contact = await cases.set_contact(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                participant_id=_participant_id(input.participant_id),
                full_name=_given(input.full_name),
                email=_given(input.email),
                phone=_given(input.phone),
                date_of_birth=_given(input.date_of_birth),
                address=_given(input.address),
                reason=input.reason,
                expected_version=input.expected_version,
            )
            return ContactSuccess(contact=expose(ContactDetailsType, contact))

        return await attempt(run)

    @strawberry.mutation(description="Remove a value entered by mistake, also from the trail.")
    async def redact_participant_contact(
        self, info: Info, input: RedactParticipantContactInput
    ) -> ContactResult:
        async def run() -> ContactSuccess:
            contact = await cases.redact_contact(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                participant_id=_participant_id(input.participant_id),
                field=ContactField(input.field),
                reason=input.reason,
                code=input.reason_code,
                replacement=input.replacement,
            )
            return ContactSuccess(contact=expose(ContactDetailsType, contact))

        return await attempt(run)

    @strawberry.mutation(description="Crypto-shred a participant's personal data (administrators).")
    async def erase_participant(
        self, info: Info, input: EraseParticipantInput
    ) -> EraseParticipantResult:
        async def run() -> EraseParticipantSuccess:
            participant = await cases.erase_participant(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                participant_id=_participant_id(input.participant_id),
                legal_basis=input.legal_basis,
            )
            return EraseParticipantSuccess(participant=expose(ParticipantType, participant))

        return await attempt(run)
