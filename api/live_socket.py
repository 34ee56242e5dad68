"""graphql-transport-ws on /graphql: one socket per client, authenticated once, checked always.

The client sends its access token in the `connection_init` payload
(`{"authorization": "Bearer <token>"}`; a bare `{"token": "<token>"}` works too). Every
operation it subscribes to is planned exactly like a request over HTTP (api/graphql_http.py):
persisted queries, token, depth and alias limits, the cost limit and the caller's read budget;
a refused one gets an `error` message with the usual codes and nothing runs.

While the socket is open every event is checked against the caller's current session and
grants: they are read again from the database at once when the account changes (the change
feed's `access` notices, which reach each stream in commit order, before any later event),
and every `HEARTH_LIVE_RECHECK_SECONDS` otherwise; the access token's expiry is checked with
every event. Close codes (the 44xx range of the protocol):

    4401  the access token is missing, invalid or expired (a socket lives no longer than the
          token it was opened with: reconnect with a fresh one), or the session ended (signed
          out, revoked, password changed, account disabled): sign in again; do not retry as is
    4403  a grant was revoked: the caller may no longer see what a subscription asked for
    4400  a malformed message; 4408 no connection_init in time; 4409 an id used twice;
          4429 connection_init sent twice (the protocol's own)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from graphql import GraphQLError
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types.unset import UNSET, UnsetType

from api.context import Context
from api.graphql_http import SOCKET, Edge, GraphQLEndpoint
from api.limits import RateLimited, caller_key
from api.logging import request_id_var
from api.metrics import LiveMetrics
from api.operations import OperationRequest
from domain import live
from domain.access import Scope
from domain.actors import ANONYMOUS, Actor, Origin, RequestContext
from domain.auth import TokenClaims
from domain.errors import DomainError, ErrorCode, Forbidden, Unauthenticated
from domain.services import auth as auth_cases

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
_MAX_SUBSCRIPTIONS = 20  # per socket

log = logging.getLogger("hearth.live")


class Connection:
    """One socket's caller: who they are now, what they stream, and how they are cut off."""

    def __init__(
        self,
        socket: WebSocket,
        edge: Edge,
        feed: live.ChangeFeed,
        metrics: LiveMetrics,
        gate: asyncio.Semaphore,
    ) -> None:
        self.socket = socket
        self.gate = gate  # the process's bound on database work for live events
        self.edge = edge
        self.feed = feed
        self.metrics = metrics
        self.claims: TokenClaims | None = None
        self._token: str | None = None
        self._stale = False  # an `access` notice about this account came: read it again
        self._checked_at = 0.0  # monotonic time of the last read of session and grants
        self.context: LiveContext | None = None
        self.closed = False
        self._streams: dict[int, tuple[frozenset[str], list[Scope]]] = {}
        self._watcher: asyncio.Task[None] | None = None

    async def authenticate(self, payload: Mapping[str, object]) -> None:
        """The token of the connection_init payload: UNAUTHENTICATED when missing or bad."""
        token = _token(payload)
        if token is None:
            raise Unauthenticated
        self.claims = self.edge.services.tokens.verify_access(token)
        self._token = token
        self._checked_at = time.monotonic()
        actor = await self._resolve()
        self._became(actor)
        self._watcher = asyncio.create_task(self._watch(), name="live-recheck")

    def heard(self, notice: live.Notice) -> None:
        """Every notice a stream of this socket takes off the feed passes here first: an
        `access` notice about this account makes the next event read the account again."""
        if self.context is not None and live.concerns(self.context.caller.actor, notice):
            self._stale = True

    async def current(self) -> Actor | None:
        """The caller to check an event against: their session and grants as last read,
        read again first if an `access` notice came since or the last read is older than
        `HEARTH_LIVE_RECHECK_SECONDS`; None (and the socket closed 4401) when the token
        expired or the session ended."""
        if self.closed or not self._token_valid():
            await self.close(CLOSE_UNAUTHENTICATED, "Access token expired: reconnect.")
            return None
        every = self.edge.services.settings.live_recheck_seconds
        if self._stale or time.monotonic() - self._checked_at >= every:
            async with self.gate:
                return await self.recheck()
        assert self.context is not None
        return self.context.caller.actor

    def _token_valid(self) -> bool:
        # A socket lives no longer than its access token: a stolen token must not buy a
        # stream that outlasts the token's own expiry.
        assert self._token is not None
        try:
            self.edge.services.tokens.verify_access(self._token)
        except Unauthenticated:
            return False
        return True

    async def recheck(self) -> Actor | None:
        """The caller as they are now, read from the database; None (and the socket closed
        4401) if their token expired or their session ended."""
        if self.closed:
            return None
        if not self._token_valid():
            await self.close(CLOSE_UNAUTHENTICATED, "Access token expired: reconnect.")
            return None
        self._stale = False  # before the read: a notice that comes during it counts again
        self._checked_at = time.monotonic()
        try:
            actor = await self._resolve()
        except Unauthenticated:
            await self.close(CLOSE_UNAUTHENTICATED, "Session ended: sign in again.")
            return None
        self._became(actor)
        return actor

    async def forbid(self) -> None:
        await self.close(CLOSE_FORBIDDEN, "Forbidden: you may no longer see this.")

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if self.socket.application_state is not WebSocketState.DISCONNECTED:
            with contextlib.suppress(RuntimeError):
                await self.socket.close(code=code, reason=reason)

    @contextlib.contextmanager
    def streaming(self, kinds: frozenset[str], sites: list[Scope]) -> Iterator[None]:
        """While a subscription streams: counted, and its needs re-checked with the caller."""
        key = id(object())
        self._streams[key] = (kinds, sites)
        self.metrics.opened()
        try:
            yield
        finally:
            del self._streams[key]
            self.metrics.closed()

    async def stop(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _resolve(self) -> Actor:
        assert self.claims is not None
        return await auth_cases.resolve_actor(uow=self.edge.services.uow(), claims=self.claims)

    def _became(self, actor: Actor) -> None:
        context = self.context
        assert context is not None
        context.caller = RequestContext(actor=actor, origin=context.caller.origin)
        context.reset_loaders()

    async def _watch(self) -> None:
        """Check again at once when the account changes, and every so often anyway."""
        poke = asyncio.Event()
        every = self.edge.services.settings.live_recheck_seconds

        async def hear() -> None:
            async for notice in self.feed.listen(None):
                if self.context is not None and live.concerns(self.context.caller.actor, notice):
                    self._stale = True
                    poke.set()

        listener = asyncio.create_task(hear(), name="live-access")
        try:
            while not self.closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poke.wait(), every)
                poke.clear()
                actor = await self.recheck()
                if actor is None:
                    return
                try:
                    for kinds, sites in list(self._streams.values()):
                        live.require_listening(actor, kinds, sites)
                except (Forbidden, Unauthenticated):
                    await self.forbid()
                    return
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener


def _token(payload: Mapping[str, object]) -> str | None:
    value = payload.get("authorization", payload.get("Authorization", payload.get("token")))
    if not isinstance(value, str):
        return None
    scheme, _, rest = value.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value.strip()
    return token or None


@dataclass
class LiveContext(Context):
    connection: Connection | None = None
    connection_params: dict[str, object] = field(default_factory=dict)

    def reset_loaders(self) -> None:
        self.__post_init__()  # loaders bound to the caller as they are now

    @property
    def live(self) -> Connection:
        assert self.connection is not None
        return self.connection


class _Socket(ASGIWebSocketAdapter):
    """Sending on a socket this server already closed (a session ended) is a no-op."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state is WebSocketState.DISCONNECTED:
            return
        await super().send_json(message)

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state is not WebSocketState.DISCONNECTED:
            await super().close(code, reason)


class _Protocol(BaseGraphQLTransportWSHandler[LiveContext, None]):
    """strawberry's graphql-transport-ws, with Hearth's planning in front of each operation."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged:
            refused = self._refusal(message)
            if refused is not None:
                self._process(refused)
                payload: Any = [error.formatted for error in refused]
                await self.send_message({"id": message["id"], "type": "error", "payload": payload})
                return
        await super().handle_subscribe(message)

    def _refusal(self, message: SubscribeMessage) -> list[GraphQLError] | None:
        view = self.view
        assert isinstance(view, LiveEndpoint)
        payload = message["payload"]
        operation = OperationRequest(
            query=payload.get("query"),
            variables=payload.get("variables"),
            operation_name=payload.get("operationName"),
            extensions=payload.get("extensions"),
        )
        plan = view.planner.plan(operation, SOCKET)
        if isinstance(plan, list):
            return plan
        try:
            view.edge.reads.spend(caller_key(self.context.request, self.context.caller), plan.cost)
        except RateLimited as limited:
            return [GraphQLError(limited.message, original_error=limited)]
        payload["query"] = plan.query  # a persisted query's text, when only its hash came
        return None

    def _process(self, errors: list[GraphQLError]) -> None:
        view = self.view
        assert isinstance(view, LiveEndpoint)
        view.edge.schema._process_errors(errors)

    async def shutdown(self) -> None:
        await super().shutdown()
        await self.context.live.stop()


class LiveEndpoint(GraphQL[LiveContext, None]):
    """The websocket side of /graphql (HTTP stays with api/graphql_http.py)."""

    websocket_adapter_class = _Socket
    graphql_transport_ws_handler_class = _Protocol

    def __init__(self, edge: Edge, feed: live.ChangeFeed, metrics: LiveMetrics) -> None:
        settings = edge.services.settings
        super().__init__(
            edge.schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.live_init_seconds),
            max_subscriptions_per_connection=_MAX_SUBSCRIPTIONS,
            allowed_origins=tuple(settings.allowed_origins),
        )
        self.edge = edge
        self.feed = feed
        self.metrics = metrics
        self.planner = GraphQLEndpoint(edge)
        # Events for many subscribers at once: at most half the pool, requests keep the rest.
        self.gate = asyncio.Semaphore(max(1, settings.db_pool_size // 2))

    async def get_context(
        self, request: HTTPConnection, response: Response | WebSocket
    ) -> LiveContext:
        assert isinstance(request, WebSocket)
        origin = Origin(
            request_id=request_id_var.get(),
            client_address=request.client.host if request.client else None,
        )
        context = LiveContext(
            request=request,
            response=Response(),
            services=self.edge.services,
            caller=RequestContext(actor=ANONYMOUS, origin=origin),
        )
        context.connection = Connection(request, self.edge, self.feed, self.metrics, self.gate)
        context.connection.context = context
        return context

    async def on_ws_connect(self, context: LiveContext) -> UnsetType | dict[str, object] | None:
        try:
            await context.live.authenticate(context.connection_params)
        except DomainError as error:
            message = (
                "Unauthenticated: send a valid access token in the connection_init payload."
                if error.code is ErrorCode.UNAUTHENTICATED
                else "Forbidden."
            )
            code = CLOSE_UNAUTHENTICATED if error.code is ErrorCode.UNAUTHENTICATED else 4403
            await context.live.close(code, message)
            raise ConnectionRejectionError from None
        log.info("live socket opened")
        done: UnsetType = UNSET
        return done
