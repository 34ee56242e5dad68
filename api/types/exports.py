"""GraphQL types and mutations for sponsor exports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import Node, from_global_id, to_global_id
from domain.errors import NotFound
from domain.exports import MANIFEST, SIGNATURE, ExportFormat, ExportJob, ExportStatus
from domain.ids import StudyId
from domain.services import exports as cases
from domain.studies import Study

ExportFormatType = strawberry.enum(ExportFormat, name="ExportFormat")
ExportStatusType = strawberry.enum(ExportStatus, name="ExportStatus")


@strawberry.type(name="ExportFile")
class ExportFileType:
    name: str
    rows: int
    bytes: float = strawberry.field(description="Size in bytes (a Float: files pass 2 GiB).")
    sha256: str
    download_url: str = strawberry.field(
        description="GET with the same bearer token; every download is audited."
    )


@strawberry.type(name="ExportJob", description="A pseudonymised, signed dataset of a study.")
class ExportJobType(Node):
    format: ExportFormat
    status: ExportStatus
    requested_at: datetime
    finished_at: datetime | None
    progress: float = strawberry.field(description="0 to 1.")
    rows_done: float
    rows_total: float
    log_position: float | None = strawberry.field(
        description="The last audit-log position the data reflects: a point-in-time snapshot."
    )
    chain_head: str | None = strawberry.field(description="That event's hash (hex).")
    manifest_sha256: str | None
    manifest_url: str | None = strawberry.field(
        description="manifest.json: every file's SHA-256 and rows, the log position (signed)."
    )
    signature_url: str | None = strawberry.field(
        description="manifest.sig: the Ed25519 signature; check with `hearth export verify`."
    )
    error: str | None = strawberry.field(
        description="Why it failed, or why the last attempt failed while it waits to be retried."
    )
    files: list[ExportFileType]
    attempts: int = strawberry.field(
        description="Attempts started; one stopped by a worker shutting down is given back."
    )
    started_at: datetime | None = strawberry.field(description="When the last attempt started.")
    retry_at: datetime | None = strawberry.field(
        description="QUEUED after a failed attempt: not tried again before this time."
    )
    files_deleted_at: datetime | None = strawberry.field(
        description="When the files were deleted after the retention period (downloads: 410)."
    )

    @classmethod
    def of(cls, job: ExportJob, now: datetime) -> ExportJobType:
        base = f"/exports/{job.id}/"
        return cls(
            id=to_global_id("ExportJob", job.id),
            format=job.format,
            status=job.status_at(now),
            requested_at=job.requested_at,
            finished_at=job.finished_at,
            progress=job.progress(),
            rows_done=job.rows_done,
            rows_total=job.rows_total,
            log_position=job.log_position,
            chain_head=job.chain_head,
            manifest_sha256=job.manifest_sha256,
            manifest_url=base + MANIFEST if job.manifest_sha256 else None,
            signature_url=base + SIGNATURE if job.manifest_sha256 else None,
            error=job.error,
            attempts=job.attempts,
            started_at=job.started_at,
            retry_at=job.retry_at,
            files_deleted_at=job.files_removed_at,
            files=[
                ExportFileType(
                    name=f.name,
                    rows=f.rows,
                    bytes=f.bytes,
                    sha256=f.sha256,
                    download_url=base + f.name,
                )
                for f in job.files
            ],
        )


@strawberry.input
class StartExportInput:
    study_id: strawberry.ID
    format: ExportFormat


@strawberry.type
class StartExportSuccess:
    export: ExportJobType


StartExportResult = Annotated[
    StartExportSuccess | MutationError, strawberry.union("StartExportResult")
]


@strawberry.input
class CancelExportInput:
    export_id: strawberry.ID


@strawberry.type
class CancelExportSuccess:
    export: ExportJobType


CancelExportResult = Annotated[
    CancelExportSuccess | MutationError, strawberry.union("CancelExportResult")
]


async def exports_of(info: Info, study: Study) -> list[ExportJobType]:
    found = await cases.jobs(uow=info.context.services.uow(), ctx=info.context.caller, study=study)
    now = info.context.services.clock.now()
    return [ExportJobType.of(j, now) for j in found]


async def export_by_id(info: Info, raw: uuid.UUID) -> ExportJobType | None:
    try:
        job = await cases.get(uow=info.context.services.uow(), ctx=info.context.caller, job_id=raw)
    except NotFound:
        return None
    return ExportJobType.of(job, info.context.services.clock.now())


@strawberry.type
class ExportQueries:
    @strawberry.field(
        description="Ed25519 public key (PEM) that verifies export manifests "
        "(`hearth export verify DIR --public-key FILE`)."
    )
    def export_signing_key(self, info: Info) -> str:
        return info.context.services.exports.public_key_pem


@strawberry.type
class ExportMutations:
    @strawberry.mutation(
        description="Queue an export of a study for the worker (data managers, admins); "
        "follow it on the ExportJob."
    )
    async def start_export(self, info: Info, input: StartExportInput) -> StartExportResult:
        async def run() -> StartExportSuccess:
            services = info.context.services
            job = await cases.start(
                uow=services.uow(),
                ctx=info.context.caller,
                study_id=StudyId(from_global_id(input.study_id, "Study")[1]),
                format=ExportFormat(input.format),
                limit=services.exports.per_study,
            )
            return StartExportSuccess(export=ExportJobType.of(job, services.clock.now()))

        return await attempt(run)

    @strawberry.mutation(
        description="Cancel a queued or running export; a running one stops and keeps no files."
    )
    async def cancel_export(self, info: Info, input: CancelExportInput) -> CancelExportResult:
        async def run() -> CancelExportSuccess:
            services = info.context.services
            job = await cases.cancel(
                uow=services.uow(),
                ctx=info.context.caller,
                job_id=from_global_id(input.export_id, "ExportJob")[1],
            )
            return CancelExportSuccess(export=ExportJobType.of(job, services.clock.now()))

        return await attempt(run)
