"""The server's routes: GraphQL over HTTP and its socket, reading uploads, export files, the
participant's data link, health, readiness, metrics, the console and (outside production)
the SDL."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, WebSocketRoute

from api import metrics as hearth_metrics
from api.app.health import queue_reader, readiness
from api.app.runtime import Runtime
from api.console.routes import Console
from api.exports import download as export_download
from api.graphql_http import Edge, GraphQLEndpoint
from api.http import healthz, readyz, schema_sdl
from api.ingest import ReadingUpload
from api.live_socket import LiveEndpoint
from api.metrics import Metrics
from api.my_data import PATH as MY_DATA_PATH
from api.my_data import link as my_data_link
from infra.changefeed.hub import ChangeHub
from infra.db.site_changes import SqlSiteChanges

INGEST_PATH = "/ingest/readings"


def routes(
    runtime: Runtime, edge: Edge, hub: ChangeHub, metrics: Metrics, sdl: str
) -> list[BaseRoute]:
    settings = runtime.settings
    served: list[BaseRoute] = [
        Route("/graphql", GraphQLEndpoint(edge), methods=["GET", "POST"]),
        WebSocketRoute("/graphql", LiveEndpoint(edge, hub, metrics.live)),
        Route(INGEST_PATH, ReadingUpload(runtime.services).handle, methods=["POST"]),
        Route("/exports/{job}/{name}", export_download(runtime.services), methods=["GET"]),
        Route(MY_DATA_PATH, my_data_link(runtime.services), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route(
            "/readyz",
            # No worker: jobs wait (visibly QUEUED), everything else works, so still ready.
            readyz(lambda: readiness(runtime), advisory=frozenset({"worker"})),
            methods=["GET"],
        ),
        Route(
            "/metrics",
            hearth_metrics.endpoint(metrics, queue_reader(runtime.engine, settings)),
            methods=["GET"],
        ),
    ]
    served.extend(Console(runtime.services, SqlSiteChanges(runtime.storage.sessions)).routes())
    if not settings.is_production:
        served.append(Route("/graphql/schema.graphql", schema_sdl(sdl), methods=["GET"]))
    return served
