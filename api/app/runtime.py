"""The runtime: everything built from the settings (engine, keys, services, the audit log)
that the server, the worker and the operator commands act through."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app.configuration import (
    ConfigurationError,
    key_file,
    log_config,
    owner_url,
    server_url,
    url_errors,
)
from api.export_files import ExportFiles
from api.services import Services
from api.settings import Settings
from domain.clock import Clock, SystemClock
from infra.auth.password_screen import ZxcvbnScreen
from infra.auth.passwords import Argon2Passwords
from infra.auth.tokens import JwtTokens
from infra.crypto import signing
from infra.crypto.keys import KeyFileError, KeyProvider, Purpose
from infra.db import legacy_identifiers
from infra.db.callers import SqlCallers
from infra.db.engine import create_engine, session_factory
from infra.db.installation import KeysRefused
from infra.db.legacy_identifiers import Converted
from infra.db.rate_limits import PostgresRateLimiter
from infra.db.uow import SqlUnitOfWorkFactory, Storage
from infra.eventlog import verify
from infra.eventlog.checkpoints import Checkpoint
from infra.eventlog.receipt_log import EventLogReceipts
from infra.eventlog.service import EventLog
from infra.eventlog.writer import EventLogWriter
from infra.exports.engine import FileExportEngine, export_signing_key
from infra.worker import queues

AuditReport = verify.Report
AuditProblem = verify.Problem

log = logging.getLogger("hearth")


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
        report_sealed(converted)
        return converted

    async def seal_checkpoints(self) -> list[Checkpoint]:
        """Sequence what is queued and sign a checkpoint for every log with new events."""
        return await self.log.seal()

    async def verify_audit(
        self, trusted: tuple[Path, ...] = (), *, reconcile: bool = True
    ) -> AuditReport:
        """Every log, checkpoint, trusted checkpoint, personal value and audited record."""
        return await self.log.verify(trusted, reconcile=reconcile)


def build_runtime(
    settings: Settings, *, clock: Clock | None = None, owner: bool = False
) -> Runtime:
    """Services on the app role's connection (or, for operator commands, the owner's)."""
    clock = clock or SystemClock()
    with url_errors():
        url = owner_url(settings) if owner else server_url(settings)
        engine = create_engine(url, pool_size=settings.db_pool_size)
    keys = key_file(settings)
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
    log = EventLog(engine, storage.sessions, keys, clock, log_config(settings))
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


def report_sealed(converted: Converted) -> None:
    if converted.total:
        log.info(
            "sealed %d screening numbers and %d serial numbers stored in the clear by an "
            "earlier version; emptied %d of erased participants",
            converted.screening_numbers,
            converted.serials,
            converted.dropped,
        )
