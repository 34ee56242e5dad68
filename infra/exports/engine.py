"""Runs one export: snapshot, format writer, signed manifest. Implements `ExportEngine`."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import Clock
from domain.errors import DomainError, ErrorCode
from domain.exports import ExportFile, ExportFormat, ExportJob, ExportResult
from domain.ports import ExportProgress
from infra.crypto import signing
from infra.crypto.keys import KeyProvider, Purpose
from infra.exports.fhir import write_fhir
from infra.exports.manifest import write_manifest
from infra.exports.model import Writer
from infra.exports.odm import write_odm
from infra.exports.sdtm import write_sdtm
from infra.exports.snapshot import SqlSnapshot

WRITERS: dict[ExportFormat, Writer] = {
    ExportFormat.ODM: write_odm,
    ExportFormat.FHIR: write_fhir,
    ExportFormat.SDTM: write_sdtm,
}
REPORT_SECONDS = 1.0


def export_signing_key(keys: KeyProvider) -> Ed25519PrivateKey:
    return signing.signing_key(keys.purpose_key(Purpose.EXPORT_SIGNING))


@dataclass
class _Counter:
    total: int
    done: int = 0

    def tick(self, rows: int) -> None:
        self.done += rows


class FileExportEngine:
    def __init__(self, engine: AsyncEngine, keys: KeyProvider, clock: Clock) -> None:
        self._engine = engine
        self._keys = keys
        self._clock = clock

    async def run(self, job: ExportJob, directory: str, progress: ExportProgress) -> ExportResult:
        target = _empty_directory(directory)
        async with self._engine.connect() as raw:
            connection = await raw.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with connection.begin():
                snapshot = await SqlSnapshot.open(connection, self._keys, self._clock, job)
                counter = _Counter(snapshot.total)
                reporter = asyncio.create_task(_report(counter, progress))
                try:
                    files = await WRITERS[job.format](snapshot, target, counter.tick)
                finally:
                    reporter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reporter
        digest = write_manifest(
            target,
            meta=snapshot.meta,
            format=job.format,
            files=files,
            key=export_signing_key(self._keys),
        )
        await progress(counter.done, counter.total)
        return ExportResult(
            log_position=snapshot.meta.position,
            chain_head=snapshot.meta.chain_head,
            files=tuple(ExportFile(f.name, f.rows, f.bytes, f.sha256) for f in files),
            manifest_sha256=digest,
        )


def _empty_directory(directory: str) -> Path:
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "The export directory must be empty.", field="out"
        )
    return target


async def _report(counter: _Counter, progress: ExportProgress) -> None:
    while True:
        await progress(counter.done, max(counter.total, counter.done))
        await asyncio.sleep(REPORT_SECONDS)
