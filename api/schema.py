"""The GraphQL schema: the root types, the limits and the error contract."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence

import strawberry
from graphql import ASTValidationRule, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types.execution import ExecutionContext

from api.context import Info
from api.documents import Documents
from api.errors import apply_contract
from api.limits import WriteLimits
from api.live import Subscription
from api.relay import Node, from_global_id
from api.types.adverse_events import (
    AdverseEventMutations,
    AdverseEventQueries,
    adverse_event_by_id,
)
from api.types.alerts import AlertMutations, AlertQueries
from api.types.audit import AuditQueries
from api.types.auth import AuthMutations, AuthQueries
from api.types.consent import ConsentMutations
from api.types.contacts import ContactMutations, ContactQueries
from api.types.data_downloads import DataDownloadMutations
from api.types.data_queries import DataQueryMutations, DataQueryQueries, query_by_id
from api.types.design import DesignMutations
from api.types.deviations import DeviationMutations, DeviationQueries, deviation_by_id
from api.types.devices import DeviceMutations, device_by_id
from api.types.diaries import DiaryMutations
from api.types.diary_entries import entry_by_id
from api.types.enrolment import EnrolmentMutations
from api.types.exports import ExportMutations, ExportQueries, export_by_id
from api.types.medications import MedicationMutations, MedicationQueries, medication_by_id
from api.types.notifications import NotificationMutations, NotificationQueries
from api.types.participants import LifecycleMutations, ParticipantMutations, participant_by_id
from api.types.quarantine import QuarantineMutations, QuarantineQueries
from api.types.reason_codes import ReasonCodeMutations
from api.types.receipts import ReceiptQueries
from api.types.retention import RetentionMutations
from api.types.signatures import SignatureMutations
from api.types.studies import StudyMutations, StudyQueries, site_by_id, study_by_id
from api.types.users import UserMutations, UserQueries, staff_user_by_id
from api.types.visits import VisitMutations, VisitQueries, visit_by_id
from api.types.webhooks import WebhookMutations, endpoint_by_id
from domain.ids import DataQueryId, DeviceId, ParticipantId, SiteId, StudyId, UserId, VisitId
from domain.pagination import MAX_PAGE_SIZE

NodeLoader = Callable[[Info, uuid.UUID], Awaitable[Node | None]]
# Every type `node(id:)` can return, by the type name in its global id; each loader checks
# access itself and answers None for what is missing or not the caller's.
_NODE_LOADERS: dict[str, NodeLoader] = {
    "Study": lambda info, raw: study_by_id(info, StudyId(raw)),
    "Site": lambda info, raw: site_by_id(info, SiteId(raw)),
    "Participant": lambda info, raw: participant_by_id(info, ParticipantId(raw)),
    "StaffUser": lambda info, raw: staff_user_by_id(info, UserId(raw)),
    "Visit": lambda info, raw: visit_by_id(info, VisitId(raw)),
    "DataQuery": lambda info, raw: query_by_id(info, DataQueryId(raw)),
    "DiaryEntry": entry_by_id,
    "Device": lambda info, raw: device_by_id(info, DeviceId(raw)),
    "ExportJob": export_by_id,
    "AdverseEvent": adverse_event_by_id,
    "WebhookEndpoint": endpoint_by_id,
    "ConcomitantMedication": medication_by_id,
    "ProtocolDeviation": deviation_by_id,
}


@strawberry.type
class Query(
    StudyQueries,
    ContactQueries,
    VisitQueries,
    DataQueryQueries,
    AuditQueries,
    ExportQueries,
    UserQueries,
    AuthQueries,
    QuarantineQueries,
    AdverseEventQueries,
    MedicationQueries,
    DeviationQueries,
    ReceiptQueries,
    NotificationQueries,
    AlertQueries,
):
    @strawberry.field(description="Any object by its global id; null if missing or not yours.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, raw = from_global_id(id)
        load = _NODE_LOADERS.get(type_name)
        return None if load is None else await load(info, raw)


@strawberry.type
class Mutation(
    StudyMutations,
    DesignMutations,
    ConsentMutations,
    ParticipantMutations,
    LifecycleMutations,
    VisitMutations,
    DataQueryMutations,
    DiaryMutations,
    DeviceMutations,
    ExportMutations,
    SignatureMutations,
    ContactMutations,
    EnrolmentMutations,
    UserMutations,
    AuthMutations,
    QuarantineMutations,
    RetentionMutations,
    AdverseEventMutations,
    WebhookMutations,
    MedicationMutations,
    DeviationMutations,
    NotificationMutations,
    AlertMutations,
    DataDownloadMutations,
    ReasonCodeMutations,
):
    pass


class HearthSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """The error contract (codes, masking, safe logging) instead of strawberry's logging."""
        for error in errors:
            apply_contract(error)


def build_schema(
    *,
    production: bool,
    max_depth: int = 12,
    max_aliases: int = 20,
    documents: Documents | None = None,
    observers: Sequence[Callable[..., SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema; `documents` is the parse cache the HTTP endpoint shares with execution
    (it also holds the token limit); `observers`: extensions that watch every operation
    (metrics), outermost."""
    documents = documents or Documents(max_tokens=3000)
    schema = HearthSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[*observers, WriteLimits, documents.extension()],
        config=StrawberryConfig(
            disable_field_suggestions=production, relay_max_results=MAX_PAGE_SIZE
        ),
    )
    documents.bind(schema._schema, _rules(production, max_depth, max_aliases))
    return schema


def _rules(production: bool, max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    # The limiters build a new rule class per instance: build them once, with the schema.
    rules = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules
