"""The event log as operators use it: integrate and seal, verify, prove, list the logs.

Built by the composition root from its engine, keys and configuration; the CLI, the server's
lifespan, the worker and the tests all go through it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.clock import Clock
from infra.crypto import signing
from infra.crypto.keys import KeyFileProvider, Purpose
from infra.db import installation
from infra.db.data_keys import DataKeyStore, FieldCipher
from infra.eventlog import checkpoints, notes, proofs, receipts, verify
from infra.eventlog.anchors import CheckpointDirectory, read_trusted
from infra.eventlog.checkpoints import Checkpoint
from infra.eventlog.integrator import LOGS_SQL, Integration, Integrator
from infra.eventlog.logs import INSTALLATION_LOG, LEGACY_LOG, Log


@dataclass(frozen=True)
class LogConfig:
    checkpoint_dir: Path | None  # where sealed checkpoints are published
    trusted: tuple[Path, ...]  # checkpoint copies `verify` always checks against
    max_unsealed: timedelta  # the longest an event may stay outside every checkpoint


@dataclass(frozen=True)
class LogStatus:
    log: Log
    size: int
    sealed: int
    pending: int
    verifier_key: str


class EventLog:
    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        keys: KeyFileProvider,
        clock: Clock,
        config: LogConfig,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._keys = keys
        self._clock = clock
        self._config = config
        self._installation: uuid.UUID | None = None
        self._bound = False

    @property
    def checkpoint_key(self) -> Ed25519PrivateKey:
        return signing.signing_key(self._keys.purpose_key(Purpose.CHECKPOINT_SIGNING))

    async def bind_keys(self) -> None:
        """Refuse (KeysRefused) keys that are not this installation's; bind them the first time."""
        async with self._sessions() as session, session.begin():
            key_id = signing.key_id(self.checkpoint_key.public_key())
            await installation.bind(session, self._keys, key_id, self._clock)
        self._bound = True

    async def keys_ready(self) -> bool:
        """The key file on disk, read afresh, is still the one the installation is bound to."""
        on_disk = KeyFileProvider.open_or_new(self._keys.path)
        public = signing.signing_key(on_disk.purpose_key(Purpose.CHECKPOINT_SIGNING)).public_key()
        async with self._sessions() as session:
            return await installation.matches(session, on_disk, signing.key_id(public))

    async def installation(self) -> uuid.UUID:
        if self._installation is None:
            async with self._sessions() as session:
                self._installation = await installation.installation_id(session)
        return self._installation

    async def integrator(self) -> Integrator:
        """The integrator, publishing what it seals to the checkpoint directory."""
        if not self._bound:  # never sign anything with keys that are not the installation's
            await self.bind_keys()
        where = await self.installation()
        directory = self._config.checkpoint_dir
        publish = CheckpointDirectory(directory, where).publish if directory else None
        return Integrator(self._engine, self.checkpoint_key, self._clock, where, publish=publish)

    async def integrate(self, *, seal: bool = True) -> Integration:
        """Sequence what is queued and (by default) seal every log with unsealed events."""
        return await (await self.integrator()).integrate_once(seal=seal)

    async def seal(self) -> list[Checkpoint]:
        return (await self.integrate(seal=True)).sealed

    async def verify(
        self, trusted: Sequence[Path] = (), *, reconcile: bool = True
    ) -> verify.Report:
        """Check every log against its checkpoints, the published and the trusted copies."""
        found = read_trusted([*trusted, *self._config.trusted])
        if self._config.checkpoint_dir is not None:
            found += read_trusted([self._config.checkpoint_dir], strict=False)
        rules = verify.Rules(self._clock.now(), self._config.max_unsealed, reconcile)
        where = await self.installation()
        async with self._sessions() as session, session.begin():
            # One snapshot for the whole check: writes committing meanwhile cannot confuse it.
            await session.execute(
                text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            )
            cipher = FieldCipher(DataKeyStore(session, self._keys, self._clock), self._keys)
            key = self.checkpoint_key.public_key()
            return await verify.verify(
                session, cipher, key=key, installation=where, trusted=found, rules=rules
            )

    async def log(self, name: str) -> Log:
        """A log by name: `installation`, `legacy`, an origin, a study's code or id."""
        where = await self.installation()
        if name in ("installation", "legacy"):
            return Log(where, INSTALLATION_LOG if name == "installation" else LEGACY_LOG)
        named = Log.from_origin(name)
        if named is not None and named.installation == where:
            return named
        async with self._sessions() as session:
            study = await session.scalar(
                text("SELECT id FROM studies WHERE code = :name OR id::text = :name"),
                {"name": name},
            )
        if study is None:
            raise proofs.ProofError(f"no log named {name!r}")
        return Log(where, study)

    async def prove_inclusion(
        self, log: Log, position: int, size: int | None
    ) -> proofs.InclusionProof:
        async with self._sessions() as session:
            return await proofs.inclusion(session, log.origin, log.id, position, size)

    async def prove_consistency(
        self, log: Log, old_size: int, new_size: int | None
    ) -> proofs.ConsistencyProof:
        async with self._sessions() as session:
            return await proofs.consistency(session, log.origin, log.id, old_size, new_size)

    async def receipt(self, entity_type: str, entity_id: uuid.UUID) -> receipts.Receipt | None:
        """The receipt of the first event about an entity, None if it has none."""
        where = await self.installation()
        async with self._sessions() as session:
            return await receipts.receipt_for(session, where, entity_type, entity_id)

    async def receipt_evidence(self, receipt: receipts.Receipt) -> dict[str, Any]:
        """The receipt's inclusion proof, body and previous hash (ProofError if none yet)."""
        where = await self.installation()
        async with self._sessions() as session:
            return await receipts.evidence(session, where, receipt)

    def verifier_key(self, log: Log) -> str:
        """The published key that verifies the log's checkpoints."""
        return notes.verifier_key(log.origin, self.checkpoint_key.public_key())

    async def logs(self) -> list[LogStatus]:
        where = await self.installation()
        public = self.checkpoint_key.public_key()
        found = []
        async with self._sessions() as session:
            pending: dict[uuid.UUID, int] = dict(
                (
                    await session.execute(
                        text(
                            "SELECT e.log_id, count(*) FROM audit_pending p "
                            "JOIN audit_events e ON e.ingest = p.ingest GROUP BY e.log_id"
                        )
                    )
                ).all()
            )
            ids = {r[0] for r in await session.execute(text(LOGS_SQL))} | set(pending)
            for log_id in sorted(ids, key=str):
                log = Log(where, log_id)
                size, _ = await checkpoints.head(session, log_id)
                last = await checkpoints.latest(session, log_id)
                found.append(
                    LogStatus(
                        log,
                        size,
                        last.tree_size if last else 0,
                        pending.get(log_id, 0),
                        notes.verifier_key(log.origin, public),
                    )
                )
        return found
