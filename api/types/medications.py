"""GraphQL types and mutations for concomitant medications."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, cast

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import Node, from_global_id, to_global_id
from api.types.adverse_events import ReasonCodeType
from api.types.signatures import SignatureType, signatures_of
from domain.errors import NotFound
from domain.ids import ParticipantId
from domain.medications import (
    ConcomitantMedication,
    Frequency,
    MedicationDetails,
    MedicationStatus,
    Route,
)
from domain.reason_codes import ReasonCode
from domain.services import medications as cases
from domain.services.medications import MedicationUnitOfWork

MedicationStatusType = strawberry.enum(MedicationStatus, name="MedicationStatus")
RouteType = strawberry.enum(Route, name="MedicationRoute")
FrequencyType = strawberry.enum(Frequency, name="MedicationFrequency")
NAME = "ConcomitantMedication"
_ = ReasonCodeType  # the ReasonCode enum is declared once, with adverse events


def _uow(info: Info) -> MedicationUnitOfWork:
    return cast(MedicationUnitOfWork, info.context.services.uow())


@strawberry.type(
    name="ConcomitantMedication",
    description="A medication the participant takes beside the study treatment.",
)
class MedicationType(Node):
    status: MedicationStatus
    reported_by_participant: bool
    reported_at: datetime
    recorded_at: datetime | None
    reason_code: ReasonCode | None = strawberry.field(
        description="The coded reason of the latest correction."
    )
    version: int
    entity: strawberry.Private[ConcomitantMedication]

    @staticmethod
    def of(m: ConcomitantMedication) -> MedicationType:
        return MedicationType(
            id=to_global_id(NAME, m.id),
            status=m.status,
            reported_by_participant=m.reported_by_participant,
            reported_at=m.reported_at,
            recorded_at=m.recorded_at,
            reason_code=m.reason_code,
            version=m.version,
            entity=m,
        )

    @strawberry.field(description="CMTRT: the name as reported.")
    def name(self) -> str:
        return self.entity.details.name

    @strawberry.field(description="WHODrug-style code, as recorded by the site.")
    def drug_code(self) -> str | None:
        return self.entity.details.drug_code

    @strawberry.field(description="CMDECOD: the dictionary name.")
    def coded_name(self) -> str | None:
        return self.entity.details.coded_name

    @strawberry.field(description="The dose, a decimal number as text.")
    def dose(self) -> str | None:
        return self.entity.details.dose

    @strawberry.field(description="The dose unit in UCUM (mg, mL, [iU]).")
    def dose_unit(self) -> str | None:
        return self.entity.details.dose_unit

    @strawberry.field
    def route(self) -> Route | None:
        return self.entity.details.route

    @strawberry.field
    def frequency(self) -> Frequency | None:
        return self.entity.details.frequency

    @strawberry.field(description="Partial ISO 8601 date: 2026, 2026-06 or 2026-06-03.")
    def start(self) -> str | None:
        return self.entity.details.start

    @strawberry.field(description="Partial ISO 8601 date.")
    def end(self) -> str | None:
        return self.entity.details.end

    @strawberry.field(description="Still taken.")
    def ongoing(self) -> bool:
        return self.entity.details.ongoing

    @strawberry.field
    def indication(self) -> str | None:
        return self.entity.details.indication

    @strawberry.field
    def participant_id(self) -> strawberry.ID:
        return to_global_id("Participant", self.entity.participant_id)

    @strawberry.field
    async def signatures(self, info: Info) -> list[SignatureType]:
        return await signatures_of(info, NAME, self.entity.id)


@strawberry.input
class MedicationInput:
    name: str
    drug_code: str | None = None
    coded_name: str | None = None
    dose: str | None = None
    dose_unit: str | None = None
    route: Route | None = None
    frequency: Frequency | None = None
    start: str | None = None
    end: str | None = None
    ongoing: bool = False
    indication: str | None = None

    def details(self) -> MedicationDetails:
        return MedicationDetails(
            name=self.name,
            drug_code=self.drug_code,
            coded_name=self.coded_name,
            dose=self.dose,
            dose_unit=self.dose_unit,
            route=self.route,
            frequency=self.frequency,
            start=self.start,
            end=self.end,
            ongoing=self.ongoing,
            indication=self.indication,
        )


@strawberry.input
class ReportMedicationInput:
    participant_id: strawberry.ID
    medication: MedicationInput = strawberry.field(
        description="As the participant names it; the coded fields are the site's."
    )


@strawberry.input
class RecordMedicationInput:
    participant_id: strawberry.ID
    medication: MedicationInput


@strawberry.input
class ConfirmMedicationInput:
    medication_id: strawberry.ID
    version: int
    medication: MedicationInput


@strawberry.input
class CorrectMedicationInput:
    medication_id: strawberry.ID
    version: int
    medication: MedicationInput
    reason_code: ReasonCode
    reason: str | None = strawberry.field(
        default=None, description="Optional free text: sealed, site-only."
    )


@strawberry.type
class MedicationSuccess:
    medication: MedicationType


MedicationResult = Annotated[
    MedicationSuccess | MutationError, strawberry.union("MedicationResult")
]


def _medication_id(raw: strawberry.ID) -> uuid.UUID:
    return from_global_id(raw, NAME)[1]


def _participant(raw: strawberry.ID) -> ParticipantId:
    return ParticipantId(from_global_id(raw, "Participant")[1])


async def medication_by_id(info: Info, raw: uuid.UUID) -> MedicationType | None:
    try:
        found = await cases.get(uow=_uow(info), ctx=info.context.caller, medication_id=raw)
    except NotFound:
        return None
    return MedicationType.of(found)


@strawberry.type
class MedicationQueries:
    @strawberry.field(description="A participant's concomitant medications, oldest first.")
    async def concomitant_medications(
        self, info: Info, participant_id: strawberry.ID
    ) -> list[MedicationType]:
        found = await cases.of_participant(
            uow=_uow(info), ctx=info.context.caller, participant_id=_participant(participant_id)
        )
        return [MedicationType.of(m) for m in found]


@strawberry.type
class MedicationMutations:
    @strawberry.mutation(description="The participant reports a medication from the app.")
    async def report_medication(self, info: Info, input: ReportMedicationInput) -> MedicationResult:
        async def run() -> MedicationSuccess:
            made = await cases.report(
                uow=_uow(info),
                ctx=info.context.caller,
                participant_id=_participant(input.participant_id),
                details=input.medication.details(),
            )
            return MedicationSuccess(medication=MedicationType.of(made))

        return await attempt(run)

    @strawberry.mutation(description="Site staff record a concomitant medication, coded.")
    async def record_medication(self, info: Info, input: RecordMedicationInput) -> MedicationResult:
        async def run() -> MedicationSuccess:
            made = await cases.record(
                uow=_uow(info),
                ctx=info.context.caller,
                participant_id=_participant(input.participant_id),
                details=input.medication.details(),
            )
            return MedicationSuccess(medication=MedicationType.of(made))

        return await attempt(run)

    @strawberry.mutation(description="Site staff confirm (and code) what the participant reported.")
    async def confirm_medication(
        self, info: Info, input: ConfirmMedicationInput
    ) -> MedicationResult:
        async def run() -> MedicationSuccess:
            done = await cases.confirm(
                uow=_uow(info),
                ctx=info.context.caller,
                medication_id=_medication_id(input.medication_id),
                version=input.version,
                details=input.medication.details(),
            )
            return MedicationSuccess(medication=MedicationType.of(done))

        return await attempt(run)

    @strawberry.mutation(description="A new version of a recorded medication, with a reason code.")
    async def correct_medication(
        self, info: Info, input: CorrectMedicationInput
    ) -> MedicationResult:
        async def run() -> MedicationSuccess:
            done = await cases.correct(
                uow=_uow(info),
                ctx=info.context.caller,
                medication_id=_medication_id(input.medication_id),
                version=input.version,
                details=input.medication.details(),
                code=input.reason_code,
                reason=input.reason,
            )
            return MedicationSuccess(medication=MedicationType.of(done))

        return await attempt(run)
