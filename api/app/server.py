"""The ASGI application: the GraphQL edge, its routes, middleware and error shape, and the
factory uvicorn workers call."""

from __future__ import annotations

import functools

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from strawberry.printer import print_schema

from api import logging as hearth_logging
from api.answers import error_response
from api.app.configuration import persisted_queries, server_url
from api.app.lifespan import lifespan
from api.app.routes import INGEST_PATH, routes
from api.app.runtime import build_runtime
from api.documents import Documents
from api.graphql_http import Edge
from api.headers import EdgeHeadersMiddleware, page_csp
from api.http import console_page
from api.limits import ReadBudget
from api.metrics import HttpMetricsMiddleware, Metrics, OperationMetrics
from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from api.proxies import ClientAddressMiddleware
from api.schema import build_schema
from api.settings import Settings
from domain.clock import Clock
from infra.changefeed.hub import ChangeHub


def create_app(settings: Settings, *, clock: Clock | None = None) -> Starlette:
    persisted = persisted_queries(settings)  # before anything opens: a bad file stops here
    runtime = build_runtime(settings, clock=clock)
    metrics = Metrics()
    documents = Documents(max_tokens=settings.max_tokens)
    schema = build_schema(
        production=settings.is_production,
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        documents=documents,
        observers=[functools.partial(OperationMetrics, metrics=metrics.graphql)],
    )
    edge = Edge(
        schema=schema,
        services=runtime.services,
        documents=documents,
        persisted=persisted,
        reads=ReadBudget(runtime.services.clock, settings.read_limit_per_caller),
        console=not settings.is_production,
    )
    sdl = print_schema(schema)
    # One LISTEN connection per server process; subscriptions fan out from it.
    hub = ChangeHub(server_url(settings))
    return Starlette(
        routes=routes(runtime, edge, hub, metrics, sdl),
        middleware=[
            Middleware(HttpMetricsMiddleware, metrics=metrics.http),
            Middleware(ClientAddressMiddleware, trusted=settings.trusted_networks),
            Middleware(RequestIdMiddleware),
            Middleware(
                EdgeHeadersMiddleware,
                origins=settings.allowed_origins,
                html_csp=page_csp(console_page()),
            ),
            Middleware(
                BodyLimitMiddleware,
                max_bytes=settings.max_body_bytes,
                routes={INGEST_PATH: settings.ingest_max_bytes},
            ),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan(runtime, hub),
    )


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


async def _http_error(request: Request, error: Exception) -> Response:
    """Unknown paths and methods get the JSON error shape too."""
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "INVALID_REQUEST")
    return error_response(error.status_code, code, str(error.detail), error.headers)


def app_from_environment() -> Starlette:
    """The ASGI factory uvicorn workers call: settings from the environment, logs as JSON."""
    settings = Settings()
    hearth_logging.configure(settings.log_level)
    return create_app(settings)
