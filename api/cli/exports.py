"""`hearth export`: a study's signed, pseudonymised dataset; verify one; print the key.

The export is queued like one started through GraphQL and a worker writes it; the command
follows it (progress on stderr) and copies the files to --out when it is done. It runs where
the worker's HEARTH_EXPORT_DIR is (the same machine, or a shared volume).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from api import app
from api.cli.common import CliError, operator_context
from api.settings import Settings
from domain.actors import RequestContext
from domain.errors import DomainError
from domain.exports import ExportFormat, ExportJob, ExportStatus
from domain.services import exports as cases

USAGE = "hearth export --study CODE --format odm|fhir|sdtm --out DIR | verify DIR | public-key"
POLL_SECONDS = 0.5


def register(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="Export a study (ODM, FHIR or SDTM), verify an export, or print the signing key.",
        description="Queues a point-in-time, pseudonymised dataset of the study with a "
        "manifest (SHA-256 and rows of every file, the audit-log position) signed with "
        "Ed25519, waits while a worker ('hearth worker') writes it, then copies it to "
        "--out. Ctrl-C cancels it. The export is recorded in the audit trail.",
        usage=USAGE,
    )
    export.add_argument("--study", help="study code, e.g. HF-01")
    export.add_argument(
        "--format", choices=[f.value.lower() for f in ExportFormat], help="data format"
    )
    export.add_argument("--out", type=Path, help="directory to create (must be empty)")
    export.set_defaults(handler=_export)
    actions = export.add_subparsers(dest="action", required=False, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="Check an export's signature and every file; exit status 1 on any difference.",
        description="Trusts the signing key in HEARTH_KEY_FILE, or the PEM given.",
    )
    verify.add_argument("directory", type=Path)
    verify.add_argument(
        "--public-key", type=Path, help="PEM public key (from 'hearth export public-key')"
    )
    verify.set_defaults(handler=_verify)
    key = actions.add_parser("public-key", help="Print the PEM key that verifies exports.")
    key.set_defaults(handler=_public_key)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    if not (args.study and args.format and args.out):
        raise CliError(f"Give --study, --format and --out (usage: {USAGE}).")
    out: Path = args.out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"{out} is not empty.")
    with app.database(settings, migrate=False) as ready:
        job = asyncio.run(_run(ready, args.study, ExportFormat(args.format.upper()), out))
    print(f"Export {job.id}: {len(job.files)} files in {out}")
    print(f"  audit-log position {job.log_position}, chain head {job.chain_head}")
    for file in job.files:
        print(f"  {file.name}: {file.rows} rows, {file.bytes} bytes, sha256 {file.sha256}")
    print(f"  manifest.json sha256 {job.manifest_sha256}; check with: hearth export verify {out}")
    return 0


async def _run(settings: Settings, code: str, format: ExportFormat, out: Path) -> ExportJob:
    """Queue the export, follow it while a worker runs it, then copy its files to `out`.
    Interrupted (Ctrl-C), the export is cancelled; `out` is only created once it is done."""
    runtime = app.build_runtime(settings)
    ctx = operator_context("export")
    try:
        async with runtime.services.uow() as uow:
            study = await uow.studies.by_code(code.strip().upper())
        if study is None:
            raise CliError(f"No study with code {code}.")
        job = await cases.start(
            uow=runtime.services.uow(),
            ctx=ctx,
            study_id=study.id,
            format=format,
            limit=settings.exports_per_study,
        )
        _say(f"Export {job.id} queued.")
        if not await runtime.workers():
            _say(
                "No worker is running: the export waits in the queue until one starts "
                "('hearth worker'). Ctrl-C cancels it."
            )
        done = await _follow(runtime, ctx, job.id)
        await asyncio.to_thread(_deliver, runtime.services.exports.directory(job.id), out)
        return done
    except DomainError as error:
        raise CliError(error.message) from error
    finally:
        await runtime.close()


async def _follow(runtime: app.Runtime, ctx: RequestContext, job_id: uuid.UUID) -> ExportJob:
    bar = _ProgressBar(sys.stderr)
    try:
        job = await _until_ended(runtime, ctx, job_id, bar)
    except asyncio.CancelledError:  # Ctrl-C: nobody waits for the files any more
        await cases.cancel(uow=runtime.services.uow(), ctx=ctx, job_id=job_id)
        _say(f"Export {job_id} cancelled.")
        raise
    finally:
        bar.finish()
    if job.status is not ExportStatus.DONE:
        raise CliError(f"The export {job.status.value.lower()}: {job.error or 'no reason given'}")
    return job


async def _until_ended(
    runtime: app.Runtime, ctx: RequestContext, job_id: uuid.UUID, bar: _ProgressBar
) -> ExportJob:
    said = ""
    while True:
        job = await cases.get(uow=runtime.services.uow(), ctx=ctx, job_id=job_id)
        if job.status in (ExportStatus.RUNNING, ExportStatus.DONE):
            bar.show(job.rows_done, job.rows_total)
        if not job.unfinished:
            return job
        elif job.retry_at is not None and job.error != said:
            said = job.error or ""
            _say(f"{said} Trying again at {job.retry_at:%H:%M:%S} UTC.")
        await asyncio.sleep(POLL_SECONDS)


def _deliver(source: Path, out: Path) -> None:
    """Copy the finished export beside `out`, then move it into place: no half folder."""
    if not source.is_dir():
        raise CliError(
            f"The export is done but its files are not in {source} on this machine: run "
            "'hearth export' where the worker writes HEARTH_EXPORT_DIR, or download them."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        shutil.copytree(source, partial)
        partial.chmod(0o700)
        os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _ProgressBar:
    """A one-line bar on a terminal; a line every 10% otherwise (logs, CI)."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last_decile = -1

    def show(self, done: int, total: int) -> None:
        share = min(done / total, 1.0) if total else 0.0
        rate = done / max(time.monotonic() - self.started, 1e-9)
        text = f"{share:6.1%} {done:,}/{total:,} rows, {rate:,.0f} rows/s"
        if self.tty:
            filled = int(share * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {text}")
            self.stream.flush()
        elif int(share * 10) > self.last_decile:
            self.last_decile = int(share * 10)
            self.stream.write(text + "\n")

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    pem = args.public_key.read_text() if args.public_key else None
    report = app.verify_exported(args.directory, settings, pem)
    if not report.ok:
        print(f"FAILED: {args.directory}")
        for problem in report.problems:
            print(f"  {problem}")
        return 1
    manifest = report.manifest
    print(
        f"OK: {len(manifest['files'])} files, {manifest['format']} export of study "
        f"{manifest['study']['code']} at audit-log position {manifest['eventLog']['position']}"
    )
    return 0


def _public_key(args: argparse.Namespace, settings: Settings) -> int:
    print(app.export_public_key(settings), end="")
    return 0
