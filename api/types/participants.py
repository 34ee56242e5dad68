"""GraphQL types, queries and mutations for participants."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.exposure import expose
from api.relay import Connection, Node, from_global_id, to_global_id
from api.types.diary_planning import LastDays
from domain.ids import ParticipantId, SiteId
from domain.pagination import Page
from domain.participants import Participant, ParticipantStatus
from domain.readings import ReadingKind
from domain.reason_codes import ReasonCode
from domain.records import ReadingFilter  # a GraphQL enum once api.types.devices is loaded
from domain.services import participants as cases
from domain.services import studies as study_cases
from domain.studies import Site, Study

if TYPE_CHECKING:
    from api.types.consent import ConsentStatusType
    from api.types.contacts import ContactDetailsType
    from api.types.devices import DailySummaryType, ReadingType
    from api.types.diary_entries import DiaryEntryType
    from api.types.diary_planning import ComplianceType, DueDiaryType
    from api.types.notifications import NotificationPlanType, NotificationReceiptsType
    from api.types.studies import SiteType
    from api.types.visits import VisitType

ParticipantStatusType = strawberry.enum(ParticipantStatus, name="ParticipantStatus")


async def _participation(info: Info, participant: Participant) -> tuple[Study, Site]:
    return await study_cases.participation(
        uow=info.context.services.uow(), ctx=info.context.caller, participant_id=participant.id
    )


@strawberry.type(name="Participant", description="A pseudonymous study participant.")
class ParticipantType(Node):
    subject_id: str = strawberry.field(description="Random study subject id, e.g. 'K7Q2-9XHD'.")
    status: ParticipantStatus
    timezone: str = strawberry.field(description="Current IANA time zone of the participant.")
    registered_at: datetime
    status_changed_at: datetime
    erased_at: datetime | None = strawberry.field(
        description="When the participant's personal data was crypto-shredded, if it was."
    )
    version: int = strawberry.field(description="Increases with every change; for concurrency.")
    entity: strawberry.Private[Participant]

    @strawberry.field(
        description="Direct identifiers; an error (FORBIDDEN) for roles that may not see them."
    )
    async def contact(
        self, info: Info
    ) -> Annotated[ContactDetailsType, strawberry.lazy("api.types.contacts")] | None:
        from api.types.contacts import contact_of

        return await contact_of(info, self.entity.id)

    @strawberry.field(
        description="An identifier: the participant and their site staff only (FORBIDDEN for "
        "others); null once erased."
    )
    def screening_number(self, info: Info) -> str | None:
        return cases.screening_number_of(info.context.caller, self.entity)

    @strawberry.field(description="The title of the participant's study (shown in their app).")
    async def study_title(self, info: Info) -> str:
        study, _ = await _participation(info, self.entity)
        return study.title

    @strawberry.field(description="The name of the participant's site.")
    async def site_name(self, info: Info) -> str:
        _, site = await _participation(info, self.entity)
        return site.name

    @strawberry.field(description="How the participant reaches their site; null until it is set.")
    async def site_contact(self, info: Info) -> str | None:
        _, site = await _participation(info, self.entity)
        return site.contact

    @strawberry.field(description="The arm, once enrolled.")
    def arm_id(self) -> strawberry.ID | None:
        return to_global_id("Arm", self.entity.arm_id) if self.entity.arm_id else None

    @strawberry.field(description="Day 0 of the schedule, in the participant's time zone.")
    def enrolled_on(self) -> date | None:
        return self.entity.enrolled_on

    @strawberry.field(description="Whether a current consent allows collecting data.")
    async def consent(
        self, info: Info
    ) -> Annotated[ConsentStatusType, strawberry.lazy("api.types.consent")]:
        from api.types.consent import status_of

        return await status_of(info, self.entity.id)

    @strawberry.field(description="This participant's visits, in time order.")
    async def visits(
        self,
        info: Info,
        *,
        upcoming: bool = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[VisitType, strawberry.lazy("api.types.visits")]]:
        from api.types.visits import VisitFilterInput, VisitQueries

        return await VisitQueries().visits(  # type: ignore[no-any-return]
            info,
            filter=VisitFilterInput(participant_id=self.id, upcoming=upcoming),
            first=first,
            after=after,
            last=last,
            before=before,
        )

    @strawberry.field(
        description="Diary occurrences between start and end, in the participant's local time. "
        "Null with an error CONSENT_REQUIRED while the latest consent version is not signed."
    )
    async def diary_due(
        self, info: Info, start: datetime, end: datetime
    ) -> list[Annotated[DueDiaryType, strawberry.lazy("api.types.diary_planning")]] | None:
        from api.types.diary_planning import due_of

        return await due_of(info, self.entity.id, start, end)

    @strawberry.field(description="Submitted diary entries, oldest first.")
    async def diary_entries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[DiaryEntryType, strawberry.lazy("api.types.diary_entries")]]:
        from api.types.diary_entries import entries_of

        return await entries_of(
            info, self.entity.id, first=first, after=after, last=last, before=before
        )

    @strawberry.field(description="Diary compliance so far: on time, late, missed.")
    async def compliance(
        self,
        info: Info,
        last_days: LastDays = None,
    ) -> Annotated[ComplianceType, strawberry.lazy("api.types.diary_planning")]:
        from api.types.diary_planning import compliance_of

        return await compliance_of(info, [self.entity.id], last_days)

    @strawberry.field(
        description="Reminder receipts beside compliance: queued, sent, opened, failed (site "
        "staff and the participant)."
    )
    async def notification_receipts(
        self, info: Info
    ) -> Annotated[NotificationReceiptsType, strawberry.lazy("api.types.notifications")]:
        from api.types.notifications import receipts_of_participant

        return await receipts_of_participant(info, self.entity.id)

    @strawberry.field(
        description="Reminder instants of the coming `days` (1-14) in the participant's zone, "
        "DST-correct, with their text in `language` (default: the consent's), for local "
        "notifications while offline. Refresh when `version` changes."
    )
    async def notification_plan(
        self, info: Info, days: int = 7, language: str | None = None
    ) -> Annotated[NotificationPlanType, strawberry.lazy("api.types.notifications")]:
        from api.types.notifications import plan_of

        return await plan_of(info, self.entity.id, days, language)

    @strawberry.field(description="Device readings by effective time, oldest first.")
    async def readings(
        self,
        info: Info,
        *,
        kind: ReadingKind | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_deleted: bool = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Annotated[ReadingType, strawberry.lazy("api.types.devices")]]:
        from api.types.devices import readings_of

        return await readings_of(
            info,
            self.entity.id,
            ReadingFilter(kind=kind, since=since, until=until, include_deleted=include_deleted),
            first=first,
            after=after,
            last=last,
            before=before,
        )

    @strawberry.field(description="Per-day count, minimum, maximum and mean, in local days.")
    async def reading_summaries(
        self,
        info: Info,
        kind: ReadingKind,
        from_day: date,
        to_day: date,
    ) -> list[Annotated[DailySummaryType, strawberry.lazy("api.types.devices")]]:
        from api.types.devices import summaries_of

        return await summaries_of(info, self.entity.id, kind, from_day, to_day)

    @strawberry.field(description="The participant's site (staff; refused to the participant).")
    async def site(
        self, info: Info
    ) -> Annotated[SiteType, strawberry.lazy("api.types.studies")] | None:
        from api.types.studies import SiteType

        site = await study_cases.get_site(
            uow=info.context.services.uow(), ctx=info.context.caller, site_id=self.entity.site_id
        )
        return expose(SiteType, site)


def participant_connection(page: Page[Participant]) -> Connection[ParticipantType]:
    return Connection[ParticipantType].of(
        page, lambda p: expose(ParticipantType, p), lambda p: (str(p.id),), "participant"
    )


async def participant_by_id(info: Info, raw: ParticipantId) -> ParticipantType | None:
    found = await info.context.loaders.participants.load(raw)
    return expose(ParticipantType, found) if found else None


@strawberry.input
class RegisterParticipantInput:
    site_id: strawberry.ID
    screening_number: str
    timezone: str | None = strawberry.field(
        default=None, description="IANA time zone; the site's if omitted."
    )


@strawberry.type
class RegisterParticipantSuccess:
    participant: ParticipantType


@strawberry.input
class ChangeParticipantStatusInput:
    participant_id: strawberry.ID
    status: ParticipantStatus
    reason: str = strawberry.field(description="Why; required, it goes into the audit trail.")
    reason_code: ReasonCode | None = strawberry.field(
        default=None,
        description="Why, coded (the study's list); OTHER when only the free text is sent.",
    )
    expected_version: int | None = strawberry.field(
        default=None, description="Fail with STALE_VERSION if the participant changed since."
    )
    covers_collected_data: bool = strawberry.field(
        default=False,
        description="Withdrawal only: the participant also withdraws the use of data collected "
        "before now that has not reached the server; it is refused when the app sends it.",
    )


@strawberry.type
class ChangeParticipantStatusSuccess:
    participant: ParticipantType


RegisterParticipantResult = Annotated[
    RegisterParticipantSuccess | MutationError, strawberry.union("RegisterParticipantResult")
]
ChangeParticipantStatusResult = Annotated[
    ChangeParticipantStatusSuccess | MutationError,
    strawberry.union("ChangeParticipantStatusResult"),
]


@strawberry.type
class ParticipantMutations:
    @strawberry.mutation(description="Register a screened participant at a site (site staff).")
    async def register_participant(
        self, info: Info, input: RegisterParticipantInput
    ) -> RegisterParticipantResult:
        async def run() -> RegisterParticipantSuccess:
            participant = await cases.register_participant(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                site_id=SiteId(from_global_id(input.site_id, "Site")[1]),
                screening_number=input.screening_number,
                timezone=input.timezone,
            )
            return RegisterParticipantSuccess(participant=expose(ParticipantType, participant))

        return await attempt(run)

    @strawberry.mutation(description="Move a participant through the lifecycle, with a reason.")
    async def change_participant_status(
        self, info: Info, input: ChangeParticipantStatusInput
    ) -> ChangeParticipantStatusResult:
        async def run() -> ChangeParticipantStatusSuccess:
            participant = await cases.change_status(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                participant_id=ParticipantId(
                    from_global_id(input.participant_id, "Participant")[1]
                ),
                status=ParticipantStatus(input.status),
                reason=input.reason,
                code=input.reason_code,
                expected_version=input.expected_version,
                covers_collected_data=input.covers_collected_data,
            )
            return ChangeParticipantStatusSuccess(participant=expose(ParticipantType, participant))

        return await attempt(run)


@strawberry.input
class EnrolInStudyInput:
    participant_id: strawberry.ID
    arm_id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class ReportTimezoneInput:
    timezone: str = strawberry.field(description="The phone's IANA time zone, e.g. 'Asia/Tokyo'.")


@strawberry.type
class ParticipantSuccess:
    participant: ParticipantType


ParticipantResult = Annotated[
    ParticipantSuccess | MutationError, strawberry.union("ParticipantResult")
]


@strawberry.type
class LifecycleMutations:
    @strawberry.mutation(description="Enrol a consented participant into an arm (site staff).")
    async def enrol_in_study(self, info: Info, input: EnrolInStudyInput) -> ParticipantResult:
        async def run() -> ParticipantSuccess:
            participant = await cases.enrol_in_arm(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                participant_id=ParticipantId(
                    from_global_id(input.participant_id, "Participant")[1]
                ),
                arm_id=from_global_id(input.arm_id, "Arm")[1],
                expected_version=input.expected_version,
            )
            return ParticipantSuccess(participant=expose(ParticipantType, participant))

        return await attempt(run)

    @strawberry.mutation(description="The app reports the phone's time zone (participants).")
    async def report_timezone(self, info: Info, input: ReportTimezoneInput) -> ParticipantResult:
        async def run() -> ParticipantSuccess:
            participant = await cases.report_timezone(
                uow=info.context.services.uow(), ctx=info.context.caller, timezone=input.timezone
            )
            return ParticipantSuccess(participant=expose(ParticipantType, participant))

        return await attempt(run)
