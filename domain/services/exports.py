"""Use cases for exports: request, run, follow, download. Every step that matters is audited."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import Grant, RequestContext
from domain.errors import DomainError, ErrorCode, NotFound
from domain.exports import (
    MANIFEST,
    SIGNATURE,
    ExportFormat,
    ExportJob,
    ExportResult,
    ExportStatus,
)
from domain.ids import StudyId
from domain.ports import ExportEngine, UnitOfWork, UnitOfWorkFactory
from domain.studies import Study

MAX_LISTED = 50
INTERRUPTED = "The export was interrupted (the server stopped); start it again."
BEAT_SECONDS = 1.0  # how often a running job stores its progress


def _scope(job: ExportJob) -> Scope:
    return Scope(study_id=job.study_id)


def _subject(job: ExportJob) -> audit.Subject:
    return audit.Subject(study_id=job.study_id)


async def start(
    *, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId, format: ExportFormat
) -> ExportJob:
    """Record the request (who, which study, which format); `run` does the work."""
    async with uow:
        found = await uow.studies.get(study_id)
        study = access.visible(
            ctx.actor, Permission.STUDY_READ, found, lambda s: Scope(study_id=s.id), "Study"
        )
        grant = access.require(ctx.actor, Permission.EXPORT, Scope(study_id=study.id))
        job = ExportJob.request(
            study_id=study.id, format=format, requested_by=ctx.actor.id, now=uow.clock.now()
        )
        await uow.exports.add(job)
        uow.record(audit.created(ctx, grant, job, _subject(job)))
        await uow.commit()
    return job


async def run(
    *,
    uows: UnitOfWorkFactory,
    engine: ExportEngine,
    ctx: RequestContext,
    job: ExportJob,
    directory: str,
    observe: Callable[[int, int], None] | None = None,
) -> ExportJob:
    """Write the files, then record the outcome. A failure is recorded and raised again.
    `observe` sees every progress report (a command line's progress bar)."""
    grant = access.require(ctx.actor, Permission.EXPORT, _scope(job))
    last_beat = 0.0

    async def progress(rows_done: int, rows_total: int) -> None:
        nonlocal last_beat
        if observe is not None:
            observe(rows_done, rows_total)
        if time.monotonic() - last_beat < BEAT_SECONDS:
            return
        last_beat = time.monotonic()
        async with uows() as uow:
            await uow.exports.beat(job.id, rows_done, rows_total, uow.clock.now())
            await uow.commit()

    try:
        result = await engine.run(job, directory, progress)
    except BaseException as error:
        await _finish(uows, ctx, grant, job.id, result=None, error=_safe_message(error))
        raise
    return await _finish(uows, ctx, grant, job.id, result=result, error=None)


async def _finish(
    uows: UnitOfWorkFactory,
    ctx: RequestContext,
    grant: Grant,
    job_id: uuid.UUID,
    *,
    result: ExportResult | None,
    error: str | None,
) -> ExportJob:
    async with uows() as uow:
        current = await uow.exports.get(job_id)
        if current is None:
            raise NotFound("Export")
        now = uow.clock.now()
        if result is not None:
            ended = current.done(result, now)
            action = "completed"
        else:
            ended = current.failed(error or "The export failed.", now)
            action = "failed"
        await uow.exports.update(ended)
        change = audit.updated(ctx, grant, current, ended, _subject(ended), action=action)
        if change is not None:
            uow.record(change)
        await uow.commit()
    return ended


def _safe_message(error: BaseException) -> str:
    """What the requester may read: a domain rule's message, otherwise nothing specific."""
    if isinstance(error, DomainError):
        return error.message
    return "The export failed; the server log has the details."


async def jobs(*, uow: UnitOfWork, ctx: RequestContext, study: Study) -> Sequence[ExportJob]:
    access.require(ctx.actor, Permission.EXPORT, Scope(study_id=study.id))
    async with uow:
        return await uow.exports.of_study(study.id, MAX_LISTED)


async def get(*, uow: UnitOfWork, ctx: RequestContext, job_id: uuid.UUID) -> ExportJob:
    async with uow:
        found = await uow.exports.get(job_id)
    return access.visible(ctx.actor, Permission.EXPORT, found, _scope, "Export")


async def download(
    *, uow: UnitOfWork, ctx: RequestContext, job_id: uuid.UUID, name: str
) -> ExportJob:
    """Allow one file of a finished export to be fetched, and log who fetched it."""
    async with uow:
        found = await uow.exports.get(job_id)
        job = access.visible(ctx.actor, Permission.EXPORT, found, _scope, "Export")
        grant = access.require(ctx.actor, Permission.EXPORT, _scope(job))
        if job.status_at(uow.clock.now()) is not ExportStatus.DONE:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "The export has not finished.")
        if job.file(name) is None and name not in (MANIFEST, SIGNATURE):
            raise NotFound("Export file")
        uow.record(
            audit.Change(
                entity_type=job.ENTITY,
                entity_id=job.id,
                action="downloaded",
                fields=(audit.FieldChange("file", None, name),),
                actor=ctx.actor,
                role=grant.role,
                origin=ctx.origin,
                subject=_subject(job),
            )
        )
        await uow.commit()
    return job


async def reap(*, uows: UnitOfWorkFactory, ctx: RequestContext) -> list[ExportJob]:
    """Record as failed the jobs whose worker fell silent (a stopped or crashed server)."""
    grant = access.require(ctx.actor, Permission.EXPORT)
    async with uows() as uow:
        now = uow.clock.now()
        silent = [j for j in await uow.exports.running() if j.status_at(now) is ExportStatus.FAILED]
    return [
        await _finish(uows, ctx, grant, job.id, result=None, error=INTERRUPTED) for job in silent
    ]
