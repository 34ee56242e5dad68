"""The GraphQL schema: the root types, the limits and the error contract."""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
from api.relay import Node, from_global_id
from api.types.adverse_events import (
    AdverseEventMutations,
    AdverseEventQueries,
    adverse_event_by_id,
)
from api.types.audit import AuditQueries
from api.types.auth import AuthMutations, AuthQueries
from api.types.consent import ConsentMutations
from api.types.contacts import ContactMutations, ContactQueries
from api.types.data_queries import DataQueryMutations, DataQueryQueries, query_by_id
from api.types.design import DesignMutations
from api.types.devices import DeviceMutations, device_by_id
from api.types.diaries import DiaryMutations
from api.types.diary_entries import entry_by_id
from api.types.enrolment import EnrolmentMutations
from api.types.exports import ExportMutations, ExportQueries, export_by_id
from api.types.participants import LifecycleMutations, ParticipantMutations, participant_by_id
from api.types.quarantine import QuarantineMutations, QuarantineQueries
from api.types.retention import RetentionMutations
from api.types.signatures import SignatureMutations
from api.types.studies import StudyMutations, StudyQueries, site_by_id, study_by_id
from api.types.users import UserMutations, UserQueries, staff_user_by_id
from api.types.visits import VisitMutations, VisitQueries, visit_by_id
from domain.ids import DataQueryId, DeviceId, ParticipantId, SiteId, StudyId, UserId, VisitId
from domain.pagination import MAX_PAGE_SIZE


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
):
    @strawberry.field(description="Any object by its global id; null if missing or not yours.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, raw = from_global_id(id)
        if type_name == "Study":
            return await study_by_id(info, StudyId(raw))
        if type_name == "Site":
            return await site_by_id(info, SiteId(raw))
        if type_name == "Participant":
            return await participant_by_id(info, ParticipantId(raw))
        if type_name == "StaffUser":
            return await staff_user_by_id(info, UserId(raw))
        if type_name == "Visit":
            return await visit_by_id(info, VisitId(raw))
        if type_name == "DataQuery":
            return await query_by_id(info, DataQueryId(raw))
        if type_name == "DiaryEntry":
            return await entry_by_id(info, raw)
        if type_name == "Device":
            return await device_by_id(info, DeviceId(raw))
        if type_name == "ExportJob":
            return await export_by_id(info, raw)
        if type_name == "AdverseEvent":
            return await adverse_event_by_id(info, raw)
        return None


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
