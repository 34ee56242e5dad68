"""The composition root: the one module that wires infrastructure into the API and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from strawberry.printer import print_schema

from api import logging as hearth_logging
from api.exports import ExportRunner
from api.exports import download as export_download
from api.http import GraphQLEndpoint, GraphQLView, healthz, readyz, schema_sdl
from api.ingest import ReadingUpload
from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from api.schema import build_schema
from api.services import Services
from api.settings import Settings
from domain.clock import Clock, SystemClock
from infra.auth.passwords import Argon2Passwords
from infra.auth.tokens import JwtTokens
from infra.crypto import signing
from infra.crypto.keys import KeyFileError, KeyFileProvider, KeyProvider, Purpose
from infra.db import migrations, provision
from infra.db.embedded import EmbeddedPostgres, EmbeddedPostgresError
from infra.db.engine import app_url, create_engine, session_factory
from infra.db.installation import KeysRefused
from infra.db.rate_limits import PostgresRateLimiter
from infra.db.uow import SqlUnitOfWorkFactory, Storage
from infra.eventlog import verify
from infra.eventlog.checkpoints import Checkpoint
from infra.eventlog.integrator import Integration, Integrator
from infra.eventlog.proofs import ConsistencyProof, InclusionProof, ProofError
from infra.eventlog.service import EventLog, LogConfig, LogStatus
from infra.eventlog.writer import EventLogWriter
from infra.exports.engine import FileExportEngine, export_signing_key
from infra.exports.manifest import Verification, verify_export

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


@dataclass
class Runtime:
    """Everything built from the settings: engine, keys, services. Close it when done."""

    settings: Settings
    engine: AsyncEngine
    keys: KeyProvider
    services: Services
    storage: Storage
    log: EventLog

    async def close(self) -> None:
        await self.engine.dispose()

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
    url = _owner_url(settings) if owner else _server_url(settings)
    engine = create_engine(url, pool_size=settings.db_pool_size)
    keys = _keys(settings)
    storage = Storage(
        sessions=session_factory(engine), clock=clock, keys=keys, log=EventLogWriter()
    )
    tokens = JwtTokens(
        signing.signing_key(keys.purpose_key(Purpose.TOKEN_SIGNING)),
        clock,
        timedelta(minutes=settings.access_token_minutes),
        digest_key=keys.purpose_key(Purpose.TOKEN_HASHING),
    )
    uows = SqlUnitOfWorkFactory(storage)
    services = Services(
        settings=settings,
        clock=clock,
        uow=uows,
        passwords=Argon2Passwords(),
        tokens=tokens,
        limits=PostgresRateLimiter(
            storage.sessions, clock, keys.purpose_key(Purpose.TOKEN_HASHING)
        ),
        exports=ExportRunner(
            FileExportEngine(engine, keys, clock),
            uows,
            settings.export_path,
            signing.public_key_pem(export_signing_key(keys)),
            settings.export_concurrency,
        ),
    )
    log = EventLog(engine, storage.sessions, keys, clock, _log_config(settings))
    return Runtime(
        settings=settings, engine=engine, keys=keys, services=services, storage=storage, log=log
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
    runtime = build_runtime(settings, clock=clock)
    schema = build_schema(
        production=settings.is_production,
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_batch_operations=settings.max_batch_operations,
    )
    view = GraphQLView(schema, runtime.services)
    endpoint = GraphQLEndpoint(view, runtime.services, console=not settings.is_production)
    routes = [
        Route("/graphql", endpoint, methods=["GET", "POST"]),
        Route(INGEST_PATH, ReadingUpload(runtime.services).handle, methods=["POST"]),
        Route("/exports/{job}/{name}", export_download(runtime.services), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz(lambda: _readiness(runtime)), methods=["GET"]),
    ]
    if not settings.is_production:
        routes.append(Route("/graphql/schema.graphql", schema_sdl(endpoint.sdl), methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.bind_keys()  # a wrong key file: refuse to start, serve nothing
        await runtime.services.exports.reap()
        try:
            yield
        finally:
            await runtime.services.exports.stop()
            await _seal_on_shutdown(runtime)
            await runtime.close()

    return Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(
                BodyLimitMiddleware,
                max_bytes=settings.max_body_bytes,
                routes={INGEST_PATH: settings.ingest_max_bytes},
            ),
        ],
        lifespan=lifespan,
    )


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
        return {"database": False, "migrations": False, "keys": False}
    at_head = await migrations.at_head(runtime.engine)
    try:  # the key file in use is still the one this installation is bound to
        keys = at_head and await runtime.log.keys_ready()
    except Exception:
        keys = False
    return {"database": True, "migrations": at_head, "keys": keys}


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
        engine = create_engine(_owner_url(settings), pool_size=1)
        try:
            await migrations.upgrade(engine)
        finally:
            await engine.dispose()
    await _bind_keys(settings)
    return settings


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
