"""Prometheus metrics of the server and the worker: one `Metrics` per process.

Each concept keeps its metrics in a group built on the process's registry: `GraphQLMetrics`
(operations by name), `HttpMetrics` (requests by route), `JobMetrics` (job outcomes, in the
worker) and `QueueMetrics` (queue depth and age, read from the database at scrape time).
Later parts add theirs the same way, as an attribute of `Metrics` (webhook deliveries,
subscriptions). Labels are bounded: operation names are GraphQL names, cut off at
`MAX_OPERATIONS` distinct ones per process; routes are a fixed set. No label ever carries
an id, a variable or anything a person typed.

With several server processes (`HEARTH_WORKERS` > 1) `hearth serve` sets
`PROMETHEUS_MULTIPROC_DIR` before they start, and every scrape of any process's /metrics
adds up all of them (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext

log = logging.getLogger("hearth.metrics")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_OPERATIONS = 200
OTHER = "other"
ANONYMOUS = "anonymous"
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
_ROUTES = ("graphql", "ingest", "exports", "healthz", "readyz", "metrics")
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_JOB_SECONDS = (0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600)


class GraphQLMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram(
            "hearth_graphql_operation_seconds",
            "GraphQL operations: parse, validate and execute, by operation name and type.",
            ["operation", "type"],
            registry=registry,
            buckets=_SECONDS,
        )
        self._names: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: str | None) -> str:
        """A bounded label: the GraphQL name, once `MAX_OPERATIONS` are known only those."""
        if not name:
            return ANONYMOUS
        if not _NAME.match(name):
            return OTHER
        with self._lock:
            if name not in self._names and len(self._names) >= MAX_OPERATIONS:
                return OTHER
            self._names.add(name)
        return name

    def observe(self, execution: ExecutionContext, seconds: float) -> None:
        try:
            kind = execution.operation_type.value
            name = execution.operation_name
        except Exception:  # not parsed, or no operation by that name
            kind, name = "unknown", None
        self.seconds.labels(self.label(name), kind).observe(seconds)


class OperationMetrics(SchemaExtension):
    """Times every GraphQL operation (each of a batch on its own)."""

    def __init__(
        self, *, metrics: GraphQLMetrics, execution_context: ExecutionContext | None = None
    ) -> None:
        if execution_context is not None:
            self.execution_context = execution_context
        self.metrics = metrics

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.metrics.observe(self.execution_context, time.perf_counter() - started)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.seconds = Histogram(
            "hearth_http_request_seconds",
            "HTTP requests by route and status class.",
            ["route", "status"],
            registry=registry,
            buckets=_SECONDS,
        )

    def observe(self, path: str, status: int, seconds: float) -> None:
        first = path.strip("/").split("/", 1)[0]
        route = first if first in _ROUTES else OTHER
        self.seconds.labels(route, f"{status // 100}xx").observe(seconds)


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(scope["path"], status, time.perf_counter() - started)


class JobMetrics:
    """Every job's outcome and duration, by task. A `JobObserver` for the worker."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = Counter(
            "hearth_jobs",
            "Jobs run by this worker, by task and outcome (succeeded, failed, retried, "
            "released, cancelled).",
            ["task", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "hearth_job_seconds",
            "How long jobs ran, by task.",
            ["task"],
            registry=registry,
            buckets=_JOB_SECONDS,
        )

    def started(self, task: str, job_id: int) -> None:
        return None

    def finished(self, task: str, outcome: str, seconds: float) -> None:
        self.outcomes.labels(task, outcome).inc()
        self.seconds.labels(task).observe(seconds)


_DELIVERY_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class WebhookMetrics:
    """Every webhook try's outcome (delivered, retrying, gave_up) and latency, in the worker.
    No label carries an endpoint, a URL or a study."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.outcomes = Counter(
            "hearth_webhook_deliveries",
            "Webhook delivery tries by outcome: delivered, retrying (failed, tried again "
            "later) or gave_up (failed on the last try).",
            ["outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "hearth_webhook_delivery_seconds",
            "How long receivers took to answer a webhook try (or to fail).",
            registry=registry,
            buckets=_DELIVERY_SECONDS,
        )

    def observe(self, outcome: object, seconds: float) -> None:
        self.outcomes.labels(str(outcome)).inc()
        self.seconds.observe(seconds)


class LiveMetrics:
    """Live subscriptions open now (summed over server processes) and events delivered."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.open = Gauge(
            "hearth_subscriptions",
            "GraphQL subscriptions streaming now (graphql-transport-ws).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.delivered = Counter(
            "hearth_subscription_events",
            "Live events sent to subscribers.",
            registry=registry,
        )

    def opened(self) -> None:
        self.open.inc()

    def closed(self) -> None:
        self.open.dec()

    def sent(self) -> None:
        self.delivered.inc()


class QueueFigures(Protocol):
    @property
    def queue(self) -> str: ...
    @property
    def waiting(self) -> int: ...
    @property
    def running(self) -> int: ...
    @property
    def oldest_seconds(self) -> float: ...


class QueueMetrics(Collector):
    """The job queue as the database last showed it; `Metrics.refresh` reads it again."""

    def __init__(self) -> None:
        self._queues: Sequence[QueueFigures] = ()
        self._workers: int | None = None

    def update(self, queues: Sequence[QueueFigures], workers: int) -> None:
        self._queues, self._workers = tuple(queues), workers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = (
            ("hearth_job_queue_waiting", "Jobs ready to run, by queue.", "waiting"),
            ("hearth_job_queue_running", "Jobs running, by queue.", "running"),
            (
                "hearth_job_queue_oldest_seconds",
                "How long the oldest ready job has waited, by queue.",
                "oldest_seconds",
            ),
        )
        for name, text, attribute in families:
            family = GaugeMetricFamily(name, text, labels=["queue"])
            for stats in self._queues:
                family.add_metric([stats.queue], float(getattr(stats, attribute)))
            yield family
        if self._workers is not None:
            yield GaugeMetricFamily(
                "hearth_workers_live", "Workers with a fresh heartbeat.", value=self._workers
            )


# Reads the queue's figures and the number of live workers from the database.
Refresh = Callable[[], Awaitable[tuple[Sequence[QueueFigures], int]]]


class Metrics:
    """The registry of one process (server or worker) and every group of metrics on it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.graphql = GraphQLMetrics(self.registry)
        self.http = HttpMetrics(self.registry)
        self.jobs = JobMetrics(self.registry)
        self.webhooks = WebhookMetrics(self.registry)
        self.live = LiveMetrics(self.registry)
        self.queues = QueueMetrics()
        self.registry.register(self.queues)

    def exposition(self) -> bytes:
        return generate_latest(self._scraped())

    def _scraped(self) -> CollectorRegistry:
        if not os.environ.get(MULTIPROCESS_ENV):
            return self.registry
        # Every server process's counters and histograms, from their files; the queue once.
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        combined.register(self.queues)
        return combined

    async def refresh(self, read: Refresh) -> None:
        """Read the queue from the database; on failure keep what was read last."""
        try:
            self.queues.update(*await read())
        except Exception:
            log.warning("could not read the job queue for /metrics", exc_info=True)


def endpoint(metrics: Metrics, read: Refresh) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics, in Prometheus' text format."""

    async def serve(request: Request) -> Response:
        await metrics.refresh(read)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return serve


def worker_metrics_loop(
    metrics: Metrics, read: Refresh, host: str, port: int, every: float = 10.0
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A worker loop: /metrics on its own port (a thread of prometheus-client's), and the
    queue read again every `every` seconds while the worker runs."""

    async def loop(stop: asyncio.Event) -> None:
        try:
            server, thread = start_http_server(port, host, registry=metrics.registry)
        except OSError as error:
            log.error("the worker's /metrics port is not available", extra={"code": error.errno})
            return
        try:
            while not stop.is_set():
                await metrics.refresh(read)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    return loop
