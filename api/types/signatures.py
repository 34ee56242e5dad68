"""GraphQL types for Part 11 signatures: shown with printed name, time and meaning."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import from_global_id
from domain.services import signatures as cases
from domain.services.signatures import ShownSignature
from domain.signatures import MEANING_TEXT, Meaning

MeaningType = strawberry.enum(Meaning, name="SignatureMeaning")


@strawberry.type(name="Signature", description="An electronic signature (21 CFR Part 11).")
class SignatureType:
    id: str
    printed_name: str
    meaning: Meaning
    meaning_text: str
    signed_at: datetime
    record_version: int
    valid: bool = strawberry.field(
        description="False once the record changed after signing: it must be signed again."
    )
    manifestation: str = strawberry.field(description="Name, date and time, meaning: as shown.")

    @classmethod
    def of(cls, shown: ShownSignature) -> SignatureType:
        s = shown.signature
        return cls(
            id=str(s.id),
            printed_name=s.printed_name,
            meaning=s.meaning,
            meaning_text=MEANING_TEXT[s.meaning],
            signed_at=s.signed_at,
            record_version=s.record_version,
            valid=shown.valid,
            manifestation=s.manifestation,
        )


async def signatures_of(info: Info, record_type: str, record_id: uuid.UUID) -> list[SignatureType]:
    found = await cases.signatures_of(
        uow=info.context.services.uow(),
        ctx=info.context.caller,
        record_type=record_type,
        record_id=record_id,
    )
    return [SignatureType.of(s) for s in found]


@strawberry.input
class SignRecordInput:
    record_id: strawberry.ID = strawberry.field(description="A Visit, DiaryEntry or Participant.")
    meaning: Meaning
    password: str = strawberry.field(description="Your password again: signing re-authenticates.")


@strawberry.type
class SignRecordSuccess:
    signature: SignatureType


SignRecordResult = Annotated[
    SignRecordSuccess | MutationError, strawberry.union("SignRecordResult")
]


@strawberry.type
class SignatureMutations:
    @strawberry.mutation(
        description="Sign a record (investigators); the signature binds this version."
    )
    async def sign_record(self, info: Info, input: SignRecordInput) -> SignRecordResult:
        async def run() -> SignRecordSuccess:
            record_type, record_id = from_global_id(input.record_id)
            signature = await cases.sign_record(
                uow=info.context.services.uow(),
                passwords=info.context.services.passwords,
                ctx=info.context.caller,
                record_type=record_type,
                record_id=record_id,
                meaning=Meaning(input.meaning),
                password=input.password,
            )
            return SignRecordSuccess(signature=SignatureType.of(ShownSignature(signature, True)))

        return await attempt(run)
