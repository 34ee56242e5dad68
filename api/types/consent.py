"""GraphQL types and mutations for eConsent."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import from_global_id, to_global_id
from api.types.signatures import SignatureType
from domain.consent import Consent, ConsentText, ConsentVersion
from domain.ids import ConsentVersionId, ParticipantId, StudyId
from domain.services import consent as cases
from domain.services.signatures import ShownSignature


@strawberry.type(name="ConsentText")
class ConsentTextType:
    language: str
    title: str
    body: str


@strawberry.type(name="ConsentVersion", description="A version of the consent document.")
class ConsentVersionType:
    id: strawberry.ID
    number: int
    languages: list[str]
    content_hash: str = strawberry.field(description="SHA-256 of the texts, as signed.")
    published_at: datetime
    texts: list[ConsentTextType]

    @classmethod
    def of(cls, document: ConsentVersion) -> ConsentVersionType:
        return cls(
            id=to_global_id("ConsentVersion", document.id),
            number=document.number,
            languages=list(document.languages),
            content_hash=document.content_hash,
            published_at=document.published_at,
            texts=[
                ConsentTextType(language=t.language, title=t.title, body=t.body)
                for t in document.texts
            ],
        )


@strawberry.type(name="SignedConsent", description="The participant's signed consent.")
class SignedConsentType:
    id: strawberry.ID
    number: int = strawberry.field(description="The consent version signed.")
    language: str
    signed_at: datetime
    signatures: list[SignatureType]


@strawberry.type(name="ConsentWithdrawal", description="The participant withdrew consent.")
class ConsentWithdrawalType:
    withdrawn_at: datetime
    covers_collected_data: bool = strawberry.field(
        description="The use of data collected before withdrawal was withdrawn too: what the app "
        "sends later is refused (PARTICIPANT_WITHDRAWN). What was received stays."
    )


@strawberry.type(name="ConsentStatus")
class ConsentStatusType:
    current: bool = strawberry.field(
        description="Signed the latest version: data may be collected."
    )
    countersigned: bool
    latest_version: ConsentVersionType | None
    signed: SignedConsentType | None
    withdrawal: ConsentWithdrawalType | None


async def status_of(info: Info, participant_id: ParticipantId) -> ConsentStatusType:
    state = await cases.state(
        uow=info.context.services.uow(), ctx=info.context.caller, participant_id=participant_id
    )
    consent = state.consent
    signed = None
    if consent is not None:
        signed = SignedConsentType(
            id=to_global_id("Consent", consent.id),
            number=consent.number,
            language=consent.language,
            signed_at=consent.signed_at,
            signatures=[
                SignatureType.of(ShownSignature(s, s.valid_for(consent))) for s in state.signatures
            ],
        )
    withdrawal = state.withdrawal
    return ConsentStatusType(
        current=state.current,
        countersigned=state.countersigned,
        latest_version=ConsentVersionType.of(state.latest) if state.latest else None,
        signed=signed,
        withdrawal=ConsentWithdrawalType(
            withdrawn_at=withdrawal.withdrawn_at,
            covers_collected_data=withdrawal.covers_collected_data,
        )
        if withdrawal
        else None,
    )


async def versions_of(info: Info, study_id: StudyId) -> list[ConsentVersionType]:
    found = await cases.versions(
        uow=info.context.services.uow(), ctx=info.context.caller, study_id=study_id
    )
    return [ConsentVersionType.of(d) for d in found]


@strawberry.input
class ConsentTextInput:
    language: str = strawberry.field(description="e.g. 'en', 'de', 'pt-BR'.")
    title: str
    body: str


@strawberry.input
class PublishConsentVersionInput:
    study_id: strawberry.ID
    texts: list[ConsentTextInput]
    reason: str | None = strawberry.field(
        default=None,
        description="Required (else CONSENT_LANGUAGE_DROPPED) when the version leaves out a "
        "language active participants signed in; logged.",
    )


@strawberry.input
class SignConsentInput:
    consent_version_id: strawberry.ID
    language: str
    name: str = strawberry.field(description="Typed by the participant: their signature.")


@strawberry.input
class CountersignConsentInput:
    consent_id: strawberry.ID
    password: str = strawberry.field(description="The investigator's password again.")


@strawberry.type
class PublishConsentVersionSuccess:
    consent_version: ConsentVersionType


@strawberry.type
class SignConsentSuccess:
    consent: SignedConsentType


@strawberry.type
class CountersignConsentSuccess:
    signature: SignatureType


PublishConsentVersionResult = Annotated[
    PublishConsentVersionSuccess | MutationError, strawberry.union("PublishConsentVersionResult")
]
SignConsentResult = Annotated[
    SignConsentSuccess | MutationError, strawberry.union("SignConsentResult")
]
CountersignConsentResult = Annotated[
    CountersignConsentSuccess | MutationError, strawberry.union("CountersignConsentResult")
]


def _signed(consent: Consent) -> SignedConsentType:
    return SignedConsentType(
        id=to_global_id("Consent", consent.id),
        number=consent.number,
        language=consent.language,
        signed_at=consent.signed_at,
        signatures=[],
    )


@strawberry.type
class ConsentMutations:
    @strawberry.mutation(description="Publish a new consent version; everyone must re-consent.")
    async def publish_consent_version(
        self, info: Info, input: PublishConsentVersionInput
    ) -> PublishConsentVersionResult:
        async def run() -> PublishConsentVersionSuccess:
            document = await cases.publish_version(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=StudyId(from_global_id(input.study_id, "Study")[1]),
                texts=tuple(ConsentText(t.language, t.title, t.body) for t in input.texts),
                reason=input.reason,
            )
            return PublishConsentVersionSuccess(consent_version=ConsentVersionType.of(document))

        return await attempt(run)

    @strawberry.mutation(description="The participant signs the current consent in the app.")
    async def sign_consent(self, info: Info, input: SignConsentInput) -> SignConsentResult:
        async def run() -> SignConsentSuccess:
            consent = await cases.sign(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                consent_version_id=ConsentVersionId(
                    from_global_id(input.consent_version_id, "ConsentVersion")[1]
                ),
                language=input.language,
                name=input.name,
            )
            return SignConsentSuccess(consent=_signed(consent))

        return await attempt(run)

    @strawberry.mutation(
        description="The investigator countersigns a consent (re-enters the password)."
    )
    async def countersign_consent(
        self, info: Info, input: CountersignConsentInput
    ) -> CountersignConsentResult:
        async def run() -> CountersignConsentSuccess:
            signature = await cases.countersign(
                uow=info.context.services.uow(),
                passwords=info.context.services.passwords,
                ctx=info.context.caller,
                consent_id=uuid.UUID(str(from_global_id(input.consent_id, "Consent")[1])),
                password=input.password,
            )
            return CountersignConsentSuccess(
                signature=SignatureType.of(ShownSignature(signature, True))
            )

        return await attempt(run)
