"""Rate limits on sign-in, enrolment, refresh, every write and reads: 429 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from graphql import ExecutionResult, GraphQLError, OperationDefinitionNode
from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from api.context import Context, Info
from api.services import Services
from domain.actors import RequestContext
from domain.auth import Attempt
from domain.clock import Clock
from domain.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class Limit:
    bucket: str
    setting: str  # the Settings field holding how many attempts are allowed
    per_seconds: int


LOGIN_PER_IP = Limit("login-ip", "login_limit_per_ip", 60)
LOGIN_PER_ACCOUNT = Limit("login-account", "login_limit_per_account", 300)
ENROL_PER_IP = Limit("enrol-ip", "enrol_limit_per_ip", 60)
REFRESH_PER_IP = Limit("refresh-ip", "refresh_limit_per_ip", 60)
WRITES_PER_CALLER = Limit("write-caller", "write_limit_per_caller", 60)
WRITES_PER_IP = Limit("write-ip", "write_limit_per_ip", 60)


class RateLimited(DomainError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            ErrorCode.RATE_LIMITED, f"Too many attempts; try again in {retry_after} seconds."
        )
        self.retry_after = retry_after


@dataclass
class ReadBudget:
    """Query cost points a minute per caller (signed in) or address (signed out).

    Counted in this process, without a database round trip on the read path: with several
    server processes a caller may read up to that many times the limit.
    """

    clock: Clock
    per_minute: int
    window: int = -1
    spent: dict[str, int] = field(default_factory=dict)

    def spend(self, key: str, points: int) -> None:
        if points <= 0:
            return
        now = self.clock.now().timestamp()
        window = int(now // 60)
        if window != self.window:  # a new minute: forget the last one entirely
            self.window, self.spent = window, {}
        total = self.spent.get(key, 0) + points
        if total > self.per_minute:
            raise RateLimited(max(1, int((window + 1) * 60 - now + 0.999)))
        self.spent[key] = total


def caller_key(request: HTTPConnection, caller: RequestContext) -> str:
    if caller.actor.id is not None:
        return f"{caller.actor.kind.value}:{caller.actor.id}"
    return f"address:{address_of(request)}"


def client_address(info: Info) -> str:
    return address_of(info.context.request)


def address_of(request: HTTPConnection) -> str:
    client = request.client
    return client.host if client else "unknown"


async def check(services: Services, limit: Limit, key: str, amount: int = 1) -> None:
    """Count the attempts; past the limit, raise RateLimited with the seconds to wait."""
    allowed = int(getattr(services.settings, limit.setting))
    wait = await services.limits.hit(
        limit.bucket, key, limit=allowed, per_seconds=limit.per_seconds, amount=amount
    )
    if wait is not None:
        raise RateLimited(wait)


async def check_writes(
    services: Services, request: HTTPConnection, caller: RequestContext, writes: int = 1
) -> None:
    """Every write counts against the caller (participant or staff user) and the address,
    both in one round trip."""
    attempts = [_attempt(services, WRITES_PER_IP, address_of(request), writes)]
    if caller.actor.id is not None:
        attempts.append(_attempt(services, WRITES_PER_CALLER, caller_key(request, caller), writes))
    wait = await services.limits.hit_all(attempts)
    if wait is not None:
        raise RateLimited(wait)


def _attempt(services: Services, limit: Limit, key: str, amount: int) -> Attempt:
    allowed = int(getattr(services.settings, limit.setting))
    return Attempt(limit.bucket, key, allowed, limit.per_seconds, amount)


async def enforce(info: Info, limit: Limit, key: str) -> None:
    """Count the attempt; past the limit, answer HTTP 429 with Retry-After and stop here."""
    try:
        await check(info.context.services, limit, key)
    except RateLimited as limited:
        refuse(info.context.response, limited)
        raise


def refuse(response: Response, limited: RateLimited) -> None:
    response.status_code = 429
    response.headers["Retry-After"] = str(limited.retry_after)


class WriteLimits(SchemaExtension):
    """Mutations count as writes: past a limit the operation does not run (429, Retry-After)."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        if execution.operation_type is OperationType.MUTATION:
            context: Context = execution.context
            try:
                writes = _root_fields(execution)  # aliases make one operation several writes
                await check_writes(context.services, context.request, context.caller, writes)
            except RateLimited as limited:
                refuse(context.response, limited)
                execution.result = ExecutionResult(
                    data=None, errors=[GraphQLError(limited.message, original_error=limited)]
                )
        yield


def _root_fields(execution: ExecutionContext) -> int:
    document = execution.graphql_document
    if document is None:
        return 1
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        name = definition.name.value if definition.name else None
        if execution.operation_name in (None, name):
            return max(1, len(definition.selection_set.selections))
    return 1
