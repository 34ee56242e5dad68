"""The composition root: the one module that wires infrastructure into the API and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from strawberry.printer import print_schema

from api import logging as hearth_logging
from api import metrics as hearth_metrics
from api.answers import error_response
from api.console.routes import Console
from api.documents import Documents
from api.export_files import ExportFiles
from api.exports import download as export_download
from api.graphql_http import Edge, GraphQLEndpoint
from api.headers import EdgeHeadersMiddleware, page_csp
from api.http import console_page, healthz, readyz, schema_sdl
from api.ingest import ReadingUpload
from api.limits import ReadBudget
from api.live_socket import LiveEndpoint
from api.metrics import HttpMetricsMiddleware, Metrics, OperationMetrics, QueueFigures
from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from api.my_data import PATH as MY_DATA_PATH
from api.my_data import link as my_data_link
from api.persisted import PersistedQueryError, PersistedQueryStore, load_manifest
from api.proxies import ClientAddressMiddleware
from api.schema import build_schema
from api.services import Services
from api.settings import Settings
from domain.clock import Clock, SystemClock
from domain.notifications import Channel
from infra.auth.password_screen import ZxcvbnScreen
from infra.auth.passwords import Argon2Passwords
from infra.auth.tokens import JwtTokens
from infra.changefeed.hub import ChangeHub
from infra.crypto import signing
from infra.crypto.keys import KeyFileError, KeyFileProvider, KeyProvider, Purpose
from infra.db import legacy_identifiers, migrations, provision
from infra.db.callers import SqlCallers
from infra.db.embedded import EmbeddedPostgres, EmbeddedPostgresError
from infra.db.engine import app_url, create_engine, session_factory
from infra.db.installation import KeysRefused
from infra.db.legacy_identifiers import Converted
from infra.db.rate_limits import PostgresRateLimiter
from infra.db.site_changes import SqlSiteChanges
from infra.db.uow import SqlUnitOfWorkFactory, Storage
from infra.eventlog import verify
from infra.eventlog.checkpoints import Checkpoint
from infra.eventlog.integrator import Integration, Integrator
from infra.eventlog.proofs import ConsistencyProof, InclusionProof, ProofError
from infra.eventlog.receipt_log import EventLogReceipts
from infra.eventlog.service import EventLog, LogConfig, LogStatus
from infra.eventlog.writer import EventLogWriter
from infra.exports.engine import FileExportEngine, export_signing_key
from infra.exports.manifest import Verification, verify_export
from infra.notifications.email import EmailChannel, SmtpSettings
from infra.notifications.webpush import VapidSettings, WebPushChannel, generate_vapid_keys
from infra.worker import queues
from infra.worker.app import build_app, observing
from infra.worker.recovery import stalled_job_recovery
from infra.worker.runtime import Loop, WorkerOptions, WorkerRuntime, WorkerStopped
from infra.worker.services import WorkerServices
from infra.worker.webhooks import dispatch_loop as webhook_dispatch

EMBEDDED_DATABASE = "hearth"
AuditReport = verify.Report
AuditProblem = verify.Problem
__all__ = [
    "AuditProblem",
    "AuditReport",
    "Checkpoint",
    "ConsistencyProof",
    "InclusionProof",
    "Integration",
    "Integrator",
    "LogStatus",
    "ProofError",
]

log = logging.getLogger("hearth")


class ConfigurationError(RuntimeError):
    """Hearth cannot start or act as configured; the message is one line for the operator.

    The CLI prints it and exits with status 2 (a key file that is malformed, readable by
    others or not this installation's is one of these)."""


# What the CLI prints as one line for the operator (exit status 2), never as a bug.
OPERATOR_ERRORS: tuple[type[Exception], ...] = (ConfigurationError, KeysRefused, KeyFileError)


class WorkerFailed(RuntimeError):
    """The job worker stopped without being asked to (its database went away, say)."""


@dataclass
class Runtime:
    """Everything built from the settings: engine, keys, services. Close it when done."""

    settings: Settings
    engine: AsyncEngine
    keys: KeyProvider
    services: Services
    storage: Storage
    export_engine: FileExportEngine  # the worker runs it; tests and benchmarks may too
    log: EventLog

    async def close(self) -> None:
        await self.engine.dispose()

    async def workers(self) -> int:
        """Workers alive now (fresh heartbeats): none, and queued jobs wait."""
        return await queues.live_workers(self.engine, self.settings.worker_stalled_seconds)

    @property
    def checkpoint_key(self) -> Ed25519PrivateKey:
        return self.log.checkpoint_key

    async def bind_keys(self) -> None:
        """Refuse keys that are not this installation's (ConfigurationError); bind them the
        first time. Every process that acts calls this before it does."""
        try:
            await self.log.bind_keys()
        except (KeysRefused, KeyFileError) as error:
            raise ConfigurationError(str(error)) from None

    async def seal_legacy_identifiers(self) -> Converted:
        """Seal identifiers stored in the clear before migration 0008 (idempotent)."""
        converted = await legacy_identifiers.seal_legacy_identifiers(
            self.storage.sessions, lambda: self.keys, self.storage.clock
        )
        _report(converted)
        return converted

    async def seal_checkpoints(self) -> list[Checkpoint]:
        """Sequence what is queued and sign a checkpoint for every log with new events."""
        return await self.log.seal()

    async def verify_audit(
        self, trusted: tuple[Path, ...] = (), *, reconcile: bool = True
    ) -> AuditReport:
        """Every log, checkpoint, trusted checkpoint, personal value and audited record."""
        return await self.log.verify(trusted, reconcile=reconcile)


def _server_url(settings: Settings) -> str:
    if settings.app_database_url is not None:
        return settings.app_database_url.get_secret_value()
    if settings.database_url is None:
        raise ConfigurationError(
            "No database configured: set DATABASE_URL, or use 'hearth serve', which starts "
            "the embedded PostgreSQL."
        )
    password = settings.app_database_password
    url = app_url(
        settings.database_url.get_secret_value(), password.get_secret_value() if password else None
    )
    return url.render_as_string(hide_password=False)


def build_runtime(
    settings: Settings, *, clock: Clock | None = None, owner: bool = False
) -> Runtime:
    """Services on the app role's connection (or, for operator commands, the owner's)."""
    clock = clock or SystemClock()
    with _url_errors():
        url = _owner_url(settings) if owner else _server_url(settings)
        engine = create_engine(url, pool_size=settings.db_pool_size)
    keys = _keys(settings)
    storage = Storage(
        sessions=session_factory(engine),
        clock=clock,
        keys=keys,
        log=EventLogWriter(),
        diary_horizon=timedelta(days=settings.diary_horizon_days),
    )
    tokens = JwtTokens(
        signing.signing_key(keys.purpose_key(Purpose.TOKEN_SIGNING)),
        clock,
        timedelta(minutes=settings.access_token_minutes),
        digest_key=keys.purpose_key(Purpose.TOKEN_HASHING),
    )
    uows = SqlUnitOfWorkFactory(storage)
    export_engine = FileExportEngine(engine, keys, clock)
    log = EventLog(engine, storage.sessions, keys, clock, _log_config(settings))
    services = Services(
        settings=settings,
        clock=clock,
        uow=uows,
        callers=SqlCallers(engine),
        passwords=Argon2Passwords(),
        password_screen=ZxcvbnScreen(),
        tokens=tokens,
        limits=PostgresRateLimiter(
            storage.sessions, clock, keys.purpose_key(Purpose.TOKEN_HASHING)
        ),
        exports=ExportFiles(
            settings.export_path,
            signing.public_key_pem(export_signing_key(keys)),
            settings.exports_per_study,
        ),
        receipts=EventLogReceipts(log, storage.sessions),
    )
    return Runtime(
        settings=settings,
        engine=engine,
        keys=keys,
        services=services,
        storage=storage,
        export_engine=export_engine,
        log=log,
    )


def _keys(settings: Settings) -> KeyFileProvider:
    # A missing key file gives new keys in memory only: `bind_keys` decides whether they may
    # be written (a new installation) or must be refused (one that already has data).
    try:
        return KeyFileProvider.open_or_new(settings.key_path)
    except KeyFileError as error:
        raise ConfigurationError(str(error)) from None


def _log_config(settings: Settings) -> LogConfig:
    trusted = (settings.trusted_checkpoints,) if settings.trusted_checkpoints else ()
    return LogConfig(
        checkpoint_dir=settings.checkpoint_path,
        trusted=trusted,
        max_unsealed=timedelta(seconds=settings.checkpoint_seconds),
    )


INGEST_PATH = "/ingest/readings"


def create_app(settings: Settings, *, clock: Clock | None = None) -> Starlette:
    persisted = _persisted_queries(settings)  # before anything opens: a bad file stops here
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
    hub = ChangeHub(_server_url(settings))
    routes: list[BaseRoute] = [
        Route("/graphql", GraphQLEndpoint(edge), methods=["GET", "POST"]),
        WebSocketRoute("/graphql", LiveEndpoint(edge, hub, metrics.live)),
        Route(INGEST_PATH, ReadingUpload(runtime.services).handle, methods=["POST"]),
        Route("/exports/{job}/{name}", export_download(runtime.services), methods=["GET"]),
        Route(MY_DATA_PATH, my_data_link(runtime.services), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route(
            "/readyz",
            # No worker: jobs wait (visibly QUEUED), everything else works, so still ready.
            readyz(lambda: _readiness(runtime), advisory=frozenset({"worker"})),
            methods=["GET"],
        ),
        Route(
            "/metrics",
            hearth_metrics.endpoint(metrics, _queue_reader(runtime.engine, settings)),
            methods=["GET"],
        ),
    ]
    routes.extend(Console(runtime.services, SqlSiteChanges(runtime.storage.sessions)).routes())
    if not settings.is_production:
        routes.append(Route("/graphql/schema.graphql", schema_sdl(sdl), methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.bind_keys()  # a wrong key file: refuse to start, serve nothing
        # Before serving: nothing may be read or written next to unsealed identifiers.
        await runtime.seal_legacy_identifiers()
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()
            await _seal_on_shutdown(runtime)
            await runtime.close()

    return Starlette(
        routes=routes,
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
        lifespan=lifespan,
    )


_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


async def _http_error(request: Request, error: Exception) -> Response:
    """Unknown paths and methods get the JSON error shape too."""
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "INVALID_REQUEST")
    return error_response(error.status_code, code, str(error.detail), error.headers)


def check_configuration(settings: Settings) -> None:
    """What `hearth serve` checks before it starts anything: files the server will need."""
    _persisted_queries(settings)


def _persisted_queries(settings: Settings) -> PersistedQueryStore:
    try:
        path = settings.persisted_queries_file
        registered = load_manifest(path) if path is not None else {}
        return PersistedQueryStore(settings.persisted_queries, registered)
    except PersistedQueryError as error:
        raise ConfigurationError(str(error)) from error


async def _seal_on_shutdown(runtime: Runtime) -> None:
    """The requests have drained: put their events in their logs and seal, so a graceful
    stop leaves no unsealed tail (the integrator process does the same when it stops)."""
    try:
        await runtime.seal_checkpoints()
    except Exception:
        log.exception("sealing the audit log at shutdown failed")


def app_from_environment() -> Starlette:
    """The ASGI factory uvicorn workers call: settings from the environment, logs as JSON."""
    settings = Settings()
    hearth_logging.configure(settings.log_level)
    return create_app(settings)


async def _readiness(runtime: Runtime) -> dict[str, bool]:
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return {"database": False, "migrations": False, "keys": False, "worker": False}
    at_head = await migrations.at_head(runtime.engine)
    try:  # the key file in use is still the one this installation is bound to
        keys = at_head and await runtime.log.keys_ready()
    except Exception:
        keys = False
    worker = at_head and await _worker(runtime.engine, runtime.settings)
    return {"database": True, "migrations": at_head, "keys": keys, "worker": worker}


async def _worker(engine: AsyncEngine, settings: Settings) -> bool:
    """Whether some worker's heartbeat is fresh: without one, jobs wait in the queue."""
    return await queues.live_workers(engine, settings.worker_stalled_seconds) > 0


def _queue_reader(engine: AsyncEngine, settings: Settings) -> hearth_metrics.Refresh:
    async def read() -> tuple[Sequence[QueueFigures], int]:
        stats = await queues.queue_stats(engine)
        return stats, await queues.live_workers(engine, settings.worker_stalled_seconds)

    return read


# The worker ----------------------------------------------------------------------------


@dataclass
class Worker:
    """One worker process's parts: the runtime its tasks use, the job worker, its metrics."""

    runtime: Runtime
    jobs: WorkerRuntime
    metrics: Metrics

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs and the background loops until `stop` is set, then close everything."""
        try:
            if not await migrations.at_head(self.runtime.engine):
                raise ConfigurationError(
                    "The database is not at the latest migration: run 'hearth migrate' "
                    "(or 'hearth serve', which migrates) first."
                )
            await self.runtime.bind_keys()  # a wrong key file: run nothing, sign nothing
            await self.jobs.run(stop)
        except WorkerStopped as stopped:
            raise WorkerFailed(str(stopped)) from stopped
        finally:
            await self.runtime.close()


def build_worker(
    settings: Settings, *, clock: Clock | None = None, concurrency: int | None = None
) -> Worker:
    """A worker on the app role's connection: procrastinate, our tasks, and the loops."""
    options = WorkerOptions(
        concurrency=concurrency or settings.worker_concurrency,
        shutdown_seconds=settings.worker_shutdown_seconds,
        heartbeat_seconds=settings.worker_heartbeat_seconds,
        stalled_seconds=settings.worker_stalled_seconds,
        poll_seconds=settings.worker_poll_seconds,
    )
    # Each running export holds a connection; progress and outcomes need a few more.
    pool = max(settings.db_pool_size, options.concurrency + 2)
    runtime = build_runtime(settings.model_copy(update={"db_pool_size": pool}), clock=clock)
    metrics = Metrics()
    services = WorkerServices(
        uows=runtime.services.uow,
        exports=runtime.export_engine,
        export_root=settings.export_path,
        export_retention=timedelta(days=settings.export_retention_days),
        webhook_outcomes=metrics.webhooks.observe,
        channels=reminder_channels(settings),
        alert_mail=reminder_channels(settings).get("email"),
        console_url=settings.console_url,
        webhook_allow_private=settings.webhook_allow_private,
    )
    queue = build_app(_server_url(settings), services, pool_size=options.concurrency + 4)
    jobs = WorkerRuntime(queue, options, middleware=[observing(_JobObserver(metrics))])
    jobs.loops.extend(_worker_loops(settings, runtime, jobs, metrics))
    jobs.loops.append(webhook_dispatch(services, min(options.poll_seconds, 1.0)))
    return Worker(runtime=runtime, jobs=jobs, metrics=metrics)


def new_vapid_keys() -> tuple[str, str]:
    """(private, public) base64url: HEARTH_VAPID_PRIVATE_KEY and HEARTH_VAPID_PUBLIC_KEY."""
    return generate_vapid_keys()


def reminder_channels(settings: Settings) -> dict[str, Channel]:
    """The channels configured: Web Push with a VAPID key, e-mail with an SMTP host."""
    channels: dict[str, Channel] = {}
    if settings.vapid_private_key is not None:
        vapid = VapidSettings(settings.vapid_private_key.get_secret_value(), settings.vapid_subject)
        channels["webpush"] = WebPushChannel(vapid)
    if settings.smtp_host:
        password = settings.smtp_password
        smtp = SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=password.get_secret_value() if password is not None else None,
            starttls=settings.smtp_starttls,
        )
        channels["email"] = EmailChannel(smtp)
    return channels


def _worker_loops(
    settings: Settings, runtime: Runtime, jobs: WorkerRuntime, metrics: Metrics
) -> list[Loop]:
    """The long-running loops every worker runs beside its jobs (see infra/worker/runtime.py);
    a new one (say, the event log's integrator) is added here."""
    options = jobs.options
    loops = [
        stalled_job_recovery(jobs.app, options.stalled_seconds, options.heartbeat_seconds),
        _integration(runtime),
    ]
    if settings.worker_metrics_port:
        read = _queue_reader(runtime.engine, settings)
        host, port = settings.worker_metrics_host, settings.worker_metrics_port
        every = options.poll_seconds  # the queue's figures are as fresh as the worker's view
        loops.append(hearth_metrics.worker_metrics_loop(metrics, read, host, port, every))
    return loops


def _integration(runtime: Runtime) -> Loop:
    """The audit log's integrator: every worker runs one, an advisory lock elects the one that
    sequences and seals; the others wait to take over."""

    async def run(stop: asyncio.Event) -> None:
        await (await runtime.log.integrator()).run(stop)

    return run


class _JobObserver:
    """Every log line of a job carries its id as the request id; outcomes go to metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def started(self, task: str, job_id: int) -> None:
        hearth_logging.request_id_var.set(f"job-{job_id}")

    def finished(self, task: str, outcome: str, seconds: float) -> None:
        self.metrics.jobs.finished(task, outcome, seconds)


# Operator tasks for the CLI -------------------------------------------------------------


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir / "postgres")


@contextlib.contextmanager
def database(settings: Settings, *, migrate: bool = True) -> Iterator[Settings]:
    """Settings pointing at a ready database: DATABASE_URL's, or the embedded one.

    An embedded server started here is stopped on exit; one that was already running
    (say, under `hearth serve` in another terminal) is left alone.
    """
    server = embedded_server(settings) if settings.embedded else None
    try:
        started = server.start() if server else False
    except EmbeddedPostgresError as error:
        raise ConfigurationError(str(error)) from error
    try:
        yield asyncio.run(_prepare(settings, server, migrate))
    finally:
        if server is not None and started:
            server.stop()


async def _prepare(settings: Settings, server: EmbeddedPostgres | None, migrate: bool) -> Settings:
    if server is not None:
        await provision.ensure_database(server.url(), EMBEDDED_DATABASE)
        url = provision.with_database(server.url(), EMBEDDED_DATABASE)
        os.environ["DATABASE_URL"] = url  # server workers and child commands inherit it
        settings = settings.model_copy(update={"database_url": SecretStr(url)})
    if migrate:
        await migrate_database(settings)
    return settings


async def migrate_database(settings: Settings, *, clock: Clock | None = None) -> Converted:
    """Apply migrations as the schema owner, then seal what earlier versions kept in the
    clear (the one step a migration cannot do: it needs the keys)."""
    with _url_errors():
        engine = create_engine(_owner_url(settings), pool_size=1)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    await _bind_keys(settings)  # before anything is sealed with them
    engine = create_engine(_owner_url(settings), pool_size=1)
    try:
        converted = await legacy_identifiers.seal_legacy_identifiers(
            session_factory(engine),
            lambda: KeyFileProvider.open_or_create(settings.key_path),
            clock or SystemClock(),
        )
    finally:
        await engine.dispose()
    _report(converted)
    return converted


def _report(converted: Converted) -> None:
    if converted.total:
        log.info(
            "sealed %d screening numbers and %d serial numbers stored in the clear by an "
            "earlier version; emptied %d of erased participants",
            converted.screening_numbers,
            converted.serials,
            converted.dropped,
        )


@contextlib.contextmanager
def _url_errors() -> Iterator[None]:
    """A database URL that cannot be used is a configuration error: one clear line."""
    try:
        yield
    except (ValueError, ArgumentError) as error:
        raise ConfigurationError(
            "DATABASE_URL (or HEARTH_APP_DATABASE_URL) is not a PostgreSQL URL such as "
            "postgresql://user@host:5432/database."
        ) from error


async def _bind_keys(settings: Settings) -> None:
    """Before any command acts (and before the server starts): the keys must be this
    installation's. A database not migrated yet has nothing to bind to."""
    runtime = build_runtime(settings, owner=True)
    try:
        if await migrations.at_head(runtime.engine):
            await runtime.bind_keys()
    finally:
        await runtime.close()


def _owner_url(settings: Settings) -> str:
    if settings.database_url is None:
        raise ConfigurationError("Set DATABASE_URL to the schema owner's connection.")
    return settings.database_url.get_secret_value()


def schema_sdl_text() -> str:
    """The SDL the code exports; `schema.graphql` must equal it."""
    return print_schema(build_schema(production=False))


def export_public_key(settings: Settings) -> str:
    """The PEM public key that verifies this installation's export manifests."""
    return signing.public_key_pem(export_signing_key(_existing_keys(settings)))


def verify_exported(
    directory: Path, settings: Settings, public_key_pem: str | None
) -> Verification:
    """Check an export directory against a trusted key: a PEM file's, else the key file's."""
    if public_key_pem is not None:
        try:
            key = serialization.load_pem_public_key(public_key_pem.encode())
        except ValueError as error:
            raise ConfigurationError("The public key file is not a PEM public key.") from error
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigurationError("The public key is not an Ed25519 key.")
    else:
        key = export_signing_key(_existing_keys(settings)).public_key()
    return verify_export(directory, key)


def _existing_keys(settings: Settings) -> KeyProvider:
    if not settings.key_path.exists():
        raise ConfigurationError(
            f"No key file at {settings.key_path}: set HEARTH_KEY_FILE, or give --public-key."
        )
    return _keys(settings)
