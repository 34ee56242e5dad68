"""POST/GET /graphql, as the GraphQL-over-HTTP spec says, with Hearth's limits in front.

A request is read (api/operations.py), the caller authenticated, each operation resolved
(persisted queries), parsed (one shared cache), chosen (`operationName`), priced (api/cost.py)
and charged to the caller's read budget before anything executes; a batch is priced and
charged as a whole. Answers use `application/graphql-response+json` when the client accepts
it (a request error, such as a parse or validation failure, is then HTTP 400 without
`data`) and `application/json` otherwise (HTTP 200 for GraphQL errors, as the spec asks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLError, OperationType
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType as StrawberryOperationType

from api.answers import GRAPHQL_RESPONSE, JSON, OrjsonResponse, Refusal
from api.context import Context
from api.cost import operation_cost
from api.documents import Chosen, Documents, choose
from api.http import authenticate, console_page, refused
from api.limits import RateLimited, ReadBudget, caller_key
from api.operations import OperationRequest, read
from api.persisted import PersistedQueryStore
from api.services import Services
from domain.actors import RequestContext
from domain.errors import DomainError, ErrorCode

_MEDIA = {GRAPHQL_RESPONSE: GRAPHQL_RESPONSE, JSON: JSON, "application/*": JSON, "*/*": JSON}
_EVERY_KIND = frozenset(StrawberryOperationType)
SOCKET = "SOCKET"  # the "method" of an operation sent over the websocket


@dataclass(frozen=True)
class Edge:
    """What the endpoint is built from; one per application."""

    schema: strawberry.Schema
    services: Services
    documents: Documents
    persisted: PersistedQueryStore
    reads: ReadBudget
    console: bool


@dataclass(frozen=True)
class _Planned:
    request: OperationRequest
    query: str
    chosen: Chosen
    cost: int


_Plan = _Planned | list[GraphQLError]  # the operation to run, or its request errors


class GraphQLEndpoint:
    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.settings = edge.services.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "GET" and self._wants_console(request):
            response: Response = HTMLResponse(console_page())
        else:
            response = await self._respond(request)
        await response(scope, receive, send)

    def _wants_console(self, request: Request) -> bool:
        accept = request.headers.get("accept", "")
        return self.edge.console and "text/html" in accept and "query" not in request.query_params

    async def _respond(self, request: Request) -> Response:
        media = JSON
        try:
            media = negotiate(request.headers.get("accept"))
            operations, batched = await read(request, self.settings.max_batch_operations)
            caller = await authenticate(request, self.edge.services)
            return await self._answer(request, caller, operations, batched, media)
        except Refusal as refusal:
            return refusal.response(media)
        except DomainError as error:
            return refused(error)

    async def _answer(
        self,
        request: Request,
        caller: RequestContext,
        operations: list[OperationRequest],
        batched: bool,
        media: str,
    ) -> Response:
        sub = Response()  # the status and headers resolvers set (429 with Retry-After)
        context = Context(request=request, response=sub, services=self.edge.services, caller=caller)
        plans = [self.plan(operation, request.method) for operation in operations]
        self._within_cost(plans, batched)
        self._charge(request, caller, plans)
        results = await asyncio.gather(*(self._run(plan, context) for plan in plans))
        bodies = [_body(result) for result in results]
        status = sub.status_code
        if status == 200 and not batched and bodies[0][1] and media == GRAPHQL_RESPONSE:
            status = 400  # a request error: nothing was executed
        headers = {k: v for k, v in sub.headers.items() if k not in _OWN_HEADERS}
        content = [body for body, _ in bodies] if batched else bodies[0][0]
        return OrjsonResponse(content, status, headers, media)

    def plan(self, operation: OperationRequest, method: str) -> _Plan:
        """The operation to run, or its request errors; `method` is the HTTP method, or
        SOCKET for an operation sent over graphql-transport-ws (api/live_socket.py)."""
        try:
            query = self.edge.persisted.query_of(operation)
            document = self.edge.documents.parse(query)
            self.edge.persisted.learn(query)
            if errors := self.edge.documents.errors(query):
                return list(errors)  # the cached list is shared by every request
            chosen = choose(document, operation.operation_name)
        except GraphQLError as error:
            return [error]
        if chosen.kind is OperationType.SUBSCRIPTION and method != SOCKET:
            message = "Subscriptions run over graphql-transport-ws: open a websocket on /graphql."
            return [
                GraphQLError(
                    message, original_error=DomainError(ErrorCode.INVALID_REQUEST, message)
                )
            ]
        if method == "GET" and chosen.kind is not OperationType.QUERY:
            raise Refusal(
                405,
                ErrorCode.METHOD_NOT_ALLOWED,
                "Only queries may be sent with GET; send mutations with POST.",
                headers={"allow": "POST"},
            )
        limit = self.settings.max_query_cost
        cost = operation_cost(self.edge.schema._schema, chosen, operation.variables, limit)
        if cost > limit:
            return [_costly(limit)]
        return _Planned(operation, query, chosen, cost)

    def _within_cost(self, plans: Sequence[_Plan], batched: bool) -> None:
        limit = self.settings.max_query_cost
        if batched and _total(plans) > limit:
            raise Refusal(
                400,
                ErrorCode.QUERY_TOO_COSTLY,
                f"This batch costs more than the limit of {limit} points; send less at once.",
            )

    def _charge(
        self,
        request: Request,
        caller: RequestContext,
        plans: Sequence[_Plan],
    ) -> None:
        try:
            self.edge.reads.spend(caller_key(request, caller), _total(plans))
        except RateLimited as limited:
            raise Refusal(
                429,
                ErrorCode.RATE_LIMITED,
                limited.message,
                headers={"retry-after": str(limited.retry_after)},
            ) from None

    async def _run(self, plan: _Plan, context: Context) -> ExecutionResult:
        if isinstance(plan, list):  # a request error: codes and masking, then no execution
            self.edge.schema._process_errors(plan)
            return ExecutionResult(data=None, errors=plan)
        operation = plan.request
        return await self.edge.schema.execute(
            plan.query,
            variable_values=operation.variables,
            context_value=context,
            operation_name=operation.operation_name,
            allowed_operation_types=_EVERY_KIND,
            operation_extensions=operation.extensions,
        )


_OWN_HEADERS = frozenset({"content-length", "content-type"})


def negotiate(accept: str | None) -> str:
    """The media type to answer with; 406 when the client accepts neither JSON type."""
    if accept is None or not accept.strip():
        return JSON
    best, best_quality = None, 0.0
    for part in accept.split(","):
        media, _, parameters = part.partition(";")
        kind = _MEDIA.get(media.strip().lower())
        quality = _quality(parameters)
        if kind is None or quality <= 0:
            continue
        if quality > best_quality or (quality == best_quality and kind == GRAPHQL_RESPONSE):
            best, best_quality = kind, quality
    if best is None:
        raise Refusal(
            406,
            ErrorCode.NOT_ACCEPTABLE,
            f"Hearth answers with {GRAPHQL_RESPONSE} or {JSON}; accept one of them.",
        )
    return best


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(1.0, float(value))
            except ValueError:
                return 0.0
    return 1.0


def _total(plans: Sequence[_Plan]) -> int:
    return sum(plan.cost for plan in plans if isinstance(plan, _Planned))


def _costly(limit: int) -> GraphQLError:
    message = f"This request costs more than the limit of {limit} points; ask for smaller pages."
    return GraphQLError(message, original_error=DomainError(ErrorCode.QUERY_TOO_COSTLY, message))


def _body(result: ExecutionResult) -> tuple[dict[str, Any], bool]:
    """The JSON of a result, and whether it is a request error (no `data` then)."""
    errors = result.errors or []
    request_error = result.data is None and bool(errors) and all(e.path is None for e in errors)
    body: dict[str, Any] = {} if request_error else {"data": result.data}
    if errors:
        body["errors"] = [error.formatted for error in errors]
    if result.extensions:
        body["extensions"] = result.extensions
    return body, request_error
