"""Use cases for the participant's own data: ask for it (the app, or the site for them), build
it (the worker), fetch it once by its link. Each step is audited."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, cast

from domain import access, audit
from domain.access import Permission
from domain.actors import Grant, RequestContext
from domain.data_downloads import BUILD, DataDownload, MyData, digest, new_token
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ParticipantId
from domain.outbox import Work
from domain.pagination import Page, PageRequest, Position
from domain.ports import UnitOfWork, UnitOfWorkFactory
from domain.ports.data_downloads import DataDownloadRepository, MyDataRenderer
from domain.records import ReadingFilter, VisitFilter
from domain.services.participants import participant_scope

T = TypeVar("T")
PAGE = 100


class DownloadsUnitOfWork(UnitOfWork, Protocol):
    @property
    def data_downloads(self) -> DataDownloadRepository: ...


def _subject(d: DataDownload) -> audit.Subject:
    return audit.Subject(study_id=d.study_id, site_id=d.site_id, participant_id=d.participant_id)


def _scope(d: DataDownload) -> access.Scope:
    return access.Scope(d.study_id, d.site_id, d.participant_id)


def _grant(ctx: RequestContext, scope: access.Scope) -> Grant:
    """The participant themselves, or their site's staff acting for them."""
    for permission in (Permission.DATA_SUBMIT, Permission.DATA_PROXY):
        grant = access.granting(ctx.actor, permission, scope)
        if grant is not None:
            return grant
    return access.require(ctx.actor, Permission.DATA_SUBMIT, scope)


async def request(
    *, uow: DownloadsUnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> tuple[DataDownload, str]:
    """Queue the build and hand out the link's token (only its digest is kept)."""
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        grant = _grant(ctx, participant_scope(participant))
        if participant.erased_at is not None:
            raise DomainError(ErrorCode.PARTICIPANT_ERASED, "This participant's data was erased.")
        download = DataDownload.request(participant, ctx.actor.id, uow.clock.now())
        token, token_digest = new_token()
        await uow.data_downloads.add(download, token_digest)
        uow.record(audit.created(ctx, grant, download, _subject(download)))
        uow.enqueue(Work(BUILD, {"download_id": str(download.id)}))
        await uow.commit()
    return download, token


async def build(
    *,
    uows: UnitOfWorkFactory,
    renderer: MyDataRenderer,
    ctx: RequestContext,
    download_id: uuid.UUID,
) -> DataDownload | None:
    """The worker's task: gather the participant's data, render it, keep it sealed."""
    async with cast(DownloadsUnitOfWork, uows()) as uow:
        download = await uow.data_downloads.get(download_id)
        if download is None or download.ready_at is not None:
            return None  # gone, or built by an earlier attempt
        grant = access.require(ctx.actor, Permission.PARTICIPANT_READ, _scope(download))
        data = await _gather(uow, download)
        await uow.data_downloads.store_file(download, renderer.archive(data))
        after = download.built(uow.clock.now())
        await uow.data_downloads.update(after)
        change = audit.updated(ctx, grant, download, after, _subject(download), action="built")
        if change is not None:
            uow.record(change)
        await uow.commit()
    return after


async def _all(
    read: Callable[[PageRequest], Awaitable[Page[T]]], position: Callable[[T], Position]
) -> list[T]:
    """Every item of a keyset-paged list, a page at a time."""
    found: list[T] = []
    after: Position | None = None
    while True:
        page = await read(PageRequest(first=PAGE, after=after))
        found += page.items
        if not page.has_next_page or not page.items:
            return found
        after = position(page.items[-1])


async def _gather(uow: DownloadsUnitOfWork, download: DataDownload) -> MyData:
    participant = await uow.participants.get(download.participant_id)
    study = await uow.studies.get(download.study_id)
    site = await uow.sites.get(download.site_id)
    if participant is None or study is None or site is None:  # pragma: no cover - foreign keys
        raise NotFound("Participant")
    person = participant.id
    consents = list(await uow.consents.consents_of(person))
    entries = await _all(
        lambda r: uow.diaries.page(person, r), lambda e: (e.due_at.isoformat(), str(e.id))
    )
    readings = await _all(
        lambda r: uow.readings.page(person, ReadingFilter(include_deleted=True), r),
        lambda x: (x.reading.effective_start.isoformat(), str(x.id)),
    )
    everything = access.ReadFilter(everything=True)  # the participant's own, already checked
    visits = await _all(
        lambda r: uow.visits.page(VisitFilter(participant_id=person), everything, r),
        lambda v: (v.starts_at.isoformat(), str(v.id)),
    )
    forms = {
        (q.definition.code, q.definition.version): q for q in await uow.questionnaires.all(study.id)
    }
    return MyData(
        participant=participant,
        study=study,
        site=site,
        language=consents[-1].language if consents else "en",
        consents=consents,
        entries=entries,
        questionnaires=forms,
        readings=readings,
        visits=visits,
        generated_at=uow.clock.now(),
    )


async def fetch(*, uow: DownloadsUnitOfWork, ctx: RequestContext, token: str) -> bytes:
    """The link: the archive once, and never after it was used or expired (audited)."""
    async with uow:
        download = await uow.data_downloads.by_token(digest(token))
        if download is None:
            raise NotFound("Download")
        after = download.fetched(uow.clock.now())
        archive = await uow.data_downloads.file(download)
        if archive is None:  # pragma: no cover - a built download has its archive
            raise NotFound("Download")
        await uow.data_downloads.update(after)
        grant = access.require(ctx.actor, Permission.PARTICIPANT_READ, _scope(download))
        change = audit.updated(ctx, grant, download, after, _subject(download), action="downloaded")
        if change is not None:
            uow.record(change)
        await uow.commit()
    return archive
