"""GraphQL types, queries and mutations for studies and sites."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.exposure import expose
from api.relay import Connection, Node, from_global_id, page_request
from api.types.adverse_events import ReasonCodeType
from api.types.alerts import AlertRuleType, AlertType, alerts_of_site, rules_of_study
from api.types.consent import ConsentVersionType, versions_of
from api.types.design import ArmType, VisitDefinitionType, arms_of, definitions_of
from api.types.devices import DeviceType, devices_at
from api.types.diary_planning import (
    ComplianceType,
    DiaryScheduleType,
    LastDays,
    schedules_of,
    site_compliance_of,
)
from api.types.exports import ExportJobType, exports_of
from api.types.notifications import NotificationReceiptsType, receipts_of_site
from api.types.participants import ParticipantType, participant_connection
from api.types.questionnaires import QuestionnaireType, questionnaires_of
from domain.alerts import AlertStatus
from domain.errors import NotFound
from domain.ids import SiteId, StudyId
from domain.participants import ParticipantStatus
from domain.reason_codes import ReasonCode
from domain.services import participants as participant_cases
from domain.services import studies as cases
from domain.studies import Site, Study, StudyStatus

if TYPE_CHECKING:
    from api.types.retention import RetentionType
    from api.types.webhooks import WebhookEndpointType

StudyStatusType = strawberry.enum(StudyStatus, name="StudyStatus")
_ = ReasonCodeType  # the ReasonCode enum is declared once, with adverse events


@strawberry.type(name="Study", description="A clinical study: the container of sites.")
class StudyType(Node):
    code: str
    title: str
    created_at: datetime
    status: StudyStatus = strawberry.field(
        description="OPEN; CLOSED: it collects nothing new; PURGED: personal data shredded."
    )
    closed_at: datetime | None
    purged_at: datetime | None
    reason_codes: list[ReasonCode] = strawberry.field(
        description="The reason codes this study's corrections, reschedules, status changes "
        "and redactions may carry (OTHER always among them): the choices to offer."
    )
    entity: strawberry.Private[Study]

    @strawberry.field(description="How long the study's records are kept after it closes.")
    def retention(
        self, info: Info
    ) -> Annotated[RetentionType, strawberry.lazy("api.types.retention")]:
        from api.types.retention import retention_of

        return retention_of(info, self.entity)

    @strawberry.field(description="Treatment arms.")
    async def arms(self, info: Info) -> list[ArmType]:
        return await arms_of(info, self.entity.id)

    @strawberry.field(description="The schedule of assessments.")
    async def visit_definitions(self, info: Info) -> list[VisitDefinitionType]:
        return await definitions_of(info, self.entity.id)

    @strawberry.field(description="Versions of the consent document, oldest first.")
    async def consent_versions(self, info: Info) -> list[ConsentVersionType]:
        return await versions_of(info, self.entity.id)

    @strawberry.field(description="Published questionnaire versions, by code and version.")
    async def questionnaires(self, info: Info) -> list[QuestionnaireType]:
        return await questionnaires_of(info, self.entity.id)

    @strawberry.field(description="When participants answer which questionnaire.")
    async def diary_schedules(self, info: Info) -> list[DiaryScheduleType]:
        return await schedules_of(info, self.entity.id)

    @strawberry.field(description="The latest export jobs (data managers, admins).")
    async def exports(self, info: Info) -> list[ExportJobType] | None:
        return await exports_of(info, self.entity)

    @strawberry.field(description="Where the study's events are POSTed (data managers, admins).")
    async def webhook_endpoints(
        self, info: Info
    ) -> list[Annotated[WebhookEndpointType, strawberry.lazy("api.types.webhooks")]] | None:
        from api.types.webhooks import endpoints_of

        return await endpoints_of(info, self.entity)

    @strawberry.field(description="The study's alert rules.")
    async def alert_rules(self, info: Info) -> list[AlertRuleType]:
        return await rules_of_study(info, self.entity.id)

    @strawberry.field(description="The study's sites that you may see.")
    async def sites(self, info: Info) -> list[SiteType]:
        found = await info.context.loaders.sites_by_study.load(self.entity.id)
        return [expose(SiteType, s) for s in found]


@strawberry.type(name="Site", description="A trial site: where participants are looked after.")
class SiteType(Node):
    code: str
    name: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    timezone: str = strawberry.field(description="IANA time zone of the site.")
    created_at: datetime
    contact: str | None = strawberry.field(
        description="How participants reach the site (shown in their app)."
    )
    entity: strawberry.Private[Site]

    @strawberry.field(description="The site's alerts, newest first (200 at most).")
    async def alerts(self, info: Info, status: AlertStatus | None = None) -> list[AlertType]:
        return await alerts_of_site(info, self.entity.id, status)

    @strawberry.field
    async def study(self, info: Info) -> StudyType:
        study = await cases.get_study(
            uow=info.context.services.uow(), ctx=info.context.caller, study_id=self.entity.study_id
        )
        return expose(StudyType, study)

    @strawberry.field(description="Participants of this site, newest last, 100 at most a page.")
    async def participants(
        self,
        info: Info,
        *,
        first: int | None = None,
        after: str | None = None,
        status: ParticipantStatus | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ParticipantType]:
        page = await participant_cases.page_participants(
            uow=info.context.services.uow(),
            ctx=info.context.caller,
            site_ids=[self.entity.id],
            status=ParticipantStatus(status) if status else None,
            request=page_request(first, after, "participant", uuid.UUID, last=last, before=before),
        )
        return participant_connection(page)

    @strawberry.field(description="Devices registered at this site.")
    async def devices(self, info: Info) -> list[DeviceType]:
        return await devices_at(info, self.entity.id)

    @strawberry.field(description="Diary compliance of the site's participants so far.")
    async def compliance(
        self,
        info: Info,
        last_days: LastDays = None,
    ) -> ComplianceType:
        return await site_compliance_of(info, self.entity.id, last_days)

    @strawberry.field(description="Reminder receipts of the site's participants, newest first.")
    async def notification_receipts(self, info: Info) -> NotificationReceiptsType:
        return await receipts_of_site(info, self.entity.id)


async def study_by_id(info: Info, raw: StudyId) -> StudyType | None:
    try:
        study = await cases.get_study(
            uow=info.context.services.uow(), ctx=info.context.caller, study_id=raw
        )
    except NotFound:
        return None
    return expose(StudyType, study)


async def site_by_id(info: Info, raw: SiteId) -> SiteType | None:
    try:
        site = await cases.get_site(
            uow=info.context.services.uow(), ctx=info.context.caller, site_id=raw
        )
    except NotFound:
        return None
    return expose(SiteType, site)


@strawberry.type
class StudyQueries:
    @strawberry.field(description="The studies you may see (none without signing in).")
    async def studies(self, info: Info) -> list[StudyType]:
        found = await cases.list_studies(uow=info.context.services.uow(), ctx=info.context.caller)
        return [expose(StudyType, s) for s in found]

    @strawberry.field(description="One study by id; null if it does not exist or is not yours.")
    async def study(self, info: Info, id: strawberry.ID) -> StudyType | None:
        return await study_by_id(info, StudyId(from_global_id(id, "Study")[1]))


@strawberry.input
class CreateStudyInput:
    code: str = strawberry.field(description="Short unique code, e.g. 'HEARTH-001'.")
    title: str


@strawberry.type
class CreateStudySuccess:
    study: StudyType


@strawberry.input
class CreateSiteInput:
    study_id: strawberry.ID
    code: str
    name: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code, e.g. 'DE'.")
    timezone: str = strawberry.field(description="IANA time zone, e.g. 'Europe/Berlin'.")


@strawberry.type
class CreateSiteSuccess:
    site: SiteType


@strawberry.input
class SetSiteContactInput:
    site_id: strawberry.ID
    contact: str | None = strawberry.field(
        description="A phone number, an e-mail address, opening hours; null clears it."
    )


@strawberry.type
class SiteSuccess:
    site: SiteType


SiteResult = Annotated[SiteSuccess | MutationError, strawberry.union("SiteResult")]
CreateStudyResult = Annotated[
    CreateStudySuccess | MutationError, strawberry.union("CreateStudyResult")
]
CreateSiteResult = Annotated[
    CreateSiteSuccess | MutationError, strawberry.union("CreateSiteResult")
]


@strawberry.type
class StudyMutations:
    @strawberry.mutation(description="Create a study (administrators).")
    async def create_study(self, info: Info, input: CreateStudyInput) -> CreateStudyResult:
        async def run() -> CreateStudySuccess:
            study = await cases.create_study(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                code=input.code,
                title=input.title,
            )
            return CreateStudySuccess(study=expose(StudyType, study))

        return await attempt(run)

    @strawberry.mutation(description="Add a site to a study (administrators).")
    async def create_site(self, info: Info, input: CreateSiteInput) -> CreateSiteResult:
        async def run() -> CreateSiteSuccess:
            site = await cases.create_site(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=StudyId(from_global_id(input.study_id, "Study")[1]),
                code=input.code,
                name=input.name,
                country=input.country,
                timezone=input.timezone,
            )
            return CreateSiteSuccess(site=expose(SiteType, site))

        return await attempt(run)

    @strawberry.mutation(
        description="Set how participants reach a site (administrators, coordinators)."
    )
    async def set_site_contact(self, info: Info, input: SetSiteContactInput) -> SiteResult:
        async def run() -> SiteSuccess:
            site = await cases.set_site_contact(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                site_id=SiteId(from_global_id(input.site_id, "Site")[1]),
                contact=input.contact,
            )
            return SiteSuccess(site=expose(SiteType, site))

        return await attempt(run)
