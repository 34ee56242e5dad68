"""Runs one export: snapshot, format writer, signed manifest. Implements `ExportEngine`.

The worker calls it, one attempt at a time, on a directory of the job's own under
HEARTH_EXPORT_DIR; `discard` removes that directory (cancelled or expired exports).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
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
from infra.exports.datasetjson import write_dataset_json
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
    ExportFormat.DATASET_JSON: write_dataset_json,
}
REPORT_SECONDS = 1.0
log = logging.getLogger("hearth.exports")


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
            try:
                async with connection.begin():
                    snapshot = await SqlSnapshot.open(connection, self._keys, self._clock, job)
                    counter = _Counter(snapshot.total)
                    stop = asyncio.Event()
                    reporter = asyncio.create_task(_report(counter, progress, stop))
                    try:
                        files = await WRITERS[job.format](snapshot, target, counter.tick)
                    finally:
                        stop.set()
                        await reporter
                digest = await asyncio.to_thread(
                    write_manifest,
                    target,
                    meta=snapshot.meta,
                    format=job.format,
                    files=files,
                    key=export_signing_key(self._keys),
                )
            except BaseException:
                await asyncio.to_thread(_remove_contents, target)  # no half export lies around
                raise
        await progress(counter.done, counter.total)
        return ExportResult(
            log_position=snapshot.meta.position,
            chain_head=snapshot.meta.chain_head,
            files=tuple(ExportFile(f.name, f.rows, f.bytes, f.sha256) for f in files),
            manifest_sha256=digest,
        )

    async def discard(self, directory: str) -> None:
        await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)


def _empty_directory(directory: str) -> Path:
    target = Path(directory)
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "The export directory must be empty.", field="out"
        )
    return target


def _remove_contents(target: Path) -> None:
    for path in target.iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


async def _report(counter: _Counter, progress: ExportProgress, stop: asyncio.Event) -> None:
    """Report progress until told to stop. A failed report (the database busy for a moment)
    is logged and retried: it never fails the export itself."""
    while not stop.is_set():
        try:
            await progress(counter.done, max(counter.total, counter.done))
        except Exception:
            log.warning("export progress not stored; retrying", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), REPORT_SECONDS)
