"""Use cases for exports: request, run (in the worker), follow, cancel, download, expire.

Every step that matters is audited: the request, the outcome (done, failed after its last
attempt, cancelled), every download and every deletion of files. Attempts, retries and
progress are operational and shown on the job, not logged as events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import Grant, RequestContext
from domain.errors import DomainError, ErrorCode, NotFound
from domain.exports import (
    MANIFEST,
    RETRIES,
    SIGNATURE,
    ExportFormat,
    ExportJob,
    ExportResult,
    ExportStatus,
)
from domain.ids import StudyId
from domain.outbox import RetryLater
from domain.ports import ExportEngine, ExportProgress, UnitOfWork, UnitOfWorkFactory
from domain.studies import Study

MAX_LISTED = 50
UNFINISHED_PER_STUDY = 3  # exports of one study waiting or running at once
BEAT_SECONDS = 1.0  # how often a running job stores its progress
GAVE_UP = "The export was interrupted on every attempt; start it again."


def _scope(job: ExportJob) -> Scope:
    return Scope(study_id=job.study_id)


def _subject(job: ExportJob) -> audit.Subject:
    return audit.Subject(study_id=job.study_id)


async def start(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    format: ExportFormat,
    limit: int = UNFINISHED_PER_STUDY,
) -> ExportJob:
    """Record the request (who, which study, which format) and queue it for the worker,
    in one transaction: a request that is not recorded is never run, and the reverse."""
    async with uow:
        found = await uow.studies.get(study_id)
        study = access.visible(
            ctx.actor, Permission.STUDY_READ, found, lambda s: Scope(study_id=s.id), "Study"
        )
        grant = access.require(ctx.actor, Permission.EXPORT, Scope(study_id=study.id))
        # Capacity only after authorization: who may not export learns nothing of the load.
        if await uow.exports.unfinished(study.id) >= limit:
            raise DomainError(
                ErrorCode.SERVER_BUSY,
                f"{limit} exports of this study are waiting or running; "
                "try again when one has finished.",
            )
        job = ExportJob.request(
            study_id=study.id, format=format, requested_by=ctx.actor.id, now=uow.clock.now()
        )
        await uow.exports.add(job)
        uow.record(audit.created(ctx, grant, job, _subject(job)))
        uow.enqueue(job.work)
        await uow.commit()
    return job


async def run(
    *,
    uows: UnitOfWorkFactory,
    engine: ExportEngine,
    ctx: RequestContext,
    job_id: uuid.UUID,
    directory: str,
    observe: Callable[[int, int], None] | None = None,
) -> ExportJob | None:
    """One attempt at an export (the worker's task). None: nothing to do any more.

    A failed attempt with tries left goes back to the queue and raises `RetryLater`; the
    last one is recorded as failed and raised again. When the worker stops the attempt
    (cancelled task), the job is released to the queue. `observe` sees every progress report.
    """
    begun = await _begin(uows, ctx, job_id)
    if begun is None:
        return None
    job, grant = begun
    await engine.discard(directory)  # whatever an interrupted attempt left behind
    try:
        result = await engine.run(job, directory, _progress(uows, job.id, observe))
    except asyncio.CancelledError:  # the worker stops, or the export was cancelled
        await _release(uows, job.id)
        await engine.discard(directory)
        raise
    except Exception as error:
        await engine.discard(directory)  # a failed attempt leaves nothing behind
        retry_at = await _attempt_failed(uows, ctx, grant, job, error)
        if retry_at is None:
            raise
        raise RetryLater(retry_at) from error
    return await _finish(
        uows, ctx, grant, job.id, result, discard=lambda: engine.discard(directory)
    )


async def _begin(
    uows: UnitOfWorkFactory, ctx: RequestContext, job_id: uuid.UUID
) -> tuple[ExportJob, Grant] | None:
    async with uows() as uow:
        job = await uow.exports.lock(job_id)
        if job is None or not job.unfinished:
            return None  # cancelled, or finished by an earlier attempt
        grant = access.require(ctx.actor, Permission.EXPORT, _scope(job))
        if job.status is ExportStatus.RUNNING and job.attempts >= RETRIES.attempts:
            # Its last attempt died with its worker (each one, maybe): no more tries.
            await _end(uow, ctx, grant, job, job.failed(GAVE_UP, uow.clock.now()), action="failed")
            return None
        running = job.started(uow.clock.now())
        await uow.exports.update(running)
        await uow.commit()
    return running, grant


def _progress(
    uows: UnitOfWorkFactory, job_id: uuid.UUID, observe: Callable[[int, int], None] | None
) -> ExportProgress:
    last_beat = 0.0

    async def progress(rows_done: int, rows_total: int) -> None:
        nonlocal last_beat
        if observe is not None:
            observe(rows_done, rows_total)
        if time.monotonic() - last_beat < BEAT_SECONDS:
            return
        last_beat = time.monotonic()
        async with uows() as uow:
            await uow.exports.beat(job_id, rows_done, rows_total, uow.clock.now())
            await uow.commit()

    return progress


async def _release(uows: UnitOfWorkFactory, job_id: uuid.UUID) -> None:
    async with uows() as uow:
        job = await uow.exports.lock(job_id)
        if job is None or job.status is not ExportStatus.RUNNING:
            return  # cancelled: that is why the attempt stopped
        await uow.exports.update(job.released())
        await uow.commit()


async def _attempt_failed(
    uows: UnitOfWorkFactory,
    ctx: RequestContext,
    grant: Grant,
    job: ExportJob,
    error: Exception,
) -> datetime | None:
    """Record a failed attempt; the time of the next one, or None when none will follow."""
    # A rule that said no (a DomainError) says no again: only other failures are retried.
    delay = None if isinstance(error, DomainError) else RETRIES.delay(job.attempts)
    message = _safe_message(error)
    async with uows() as uow:
        current = await uow.exports.lock(job.id)
        if current is None or current.status is not ExportStatus.RUNNING:
            return None
        now = uow.clock.now()
        if delay is None:
            await _end(uow, ctx, grant, current, current.failed(message, now), action="failed")
            return None
        note = f"Attempt {current.attempts} failed: {message}"
        await uow.exports.update(current.retrying(note, now + delay))
        await uow.commit()
    return now + delay


async def _finish(
    uows: UnitOfWorkFactory,
    ctx: RequestContext,
    grant: Grant,
    job_id: uuid.UUID,
    result: ExportResult,
    *,
    discard: Callable[[], Awaitable[None]],
) -> ExportJob:
    async with uows() as uow:
        current = await uow.exports.lock(job_id)
        if current is None:
            raise NotFound("Export")
        if current.status is ExportStatus.RUNNING:
            return await _end(
                uow, ctx, grant, current, current.done(result, uow.clock.now()), action="completed"
            )
    await discard()  # cancelled while it was writing: keep nothing
    return current


async def _end(
    uow: UnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    before: ExportJob,
    after: ExportJob,
    *,
    action: str,
) -> ExportJob:
    await uow.exports.update(after)
    change = audit.updated(ctx, grant, before, after, _subject(after), action=action)
    if change is not None:
        uow.record(change)
    await uow.commit()
    return after


def _safe_message(error: BaseException) -> str:
    """What the requester may read: a domain rule's message, otherwise nothing specific."""
    if isinstance(error, DomainError):
        return error.message
    return "The export failed; the worker's log has the details."


async def cancel(*, uow: UnitOfWork, ctx: RequestContext, job_id: uuid.UUID) -> ExportJob:
    """Cancel a waiting or running export (audited); a running one stops and keeps no files."""
    async with uow:
        found = await uow.exports.get(job_id)
        visible = access.visible(ctx.actor, Permission.EXPORT, found, _scope, "Export")
        grant = access.require(ctx.actor, Permission.EXPORT, _scope(visible))
        job = await uow.exports.lock(job_id)
        if job is None:
            raise NotFound("Export")
        await uow.cancel_work(job.work_key)
        return await _end(uow, ctx, grant, job, job.cancelled(uow.clock.now()), action="cancelled")


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


async def expire(
    *,
    uows: UnitOfWorkFactory,
    engine: ExportEngine,
    ctx: RequestContext,
    older_than: timedelta,
    directory: Callable[[uuid.UUID], str],
    limit: int = 100,
) -> list[ExportJob]:
    """Delete the files of exports that finished more than `older_than` ago; each deletion
    is audited. Files go first: a crash in between only repeats the deletion next time."""
    grant = access.require(ctx.actor, Permission.EXPORT)
    async with uows() as uow:
        due = await uow.exports.expired(uow.clock.now() - older_than, limit)
    removed = []
    for job in due:
        await engine.discard(directory(job.id))
        async with uows() as uow:
            current = await uow.exports.lock(job.id)
            if current is not None and current.files_removed_at is None:
                after = current.files_removed(uow.clock.now())
                removed.append(await _end(uow, ctx, grant, current, after, action="files_deleted"))
    return removed
