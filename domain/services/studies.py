"""Use cases for studies and sites."""

from __future__ import annotations

from collections.abc import Sequence

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import ActorKind, RequestContext, Role
from domain.errors import NotFound
from domain.ids import ParticipantId, SiteId, StudyId
from domain.ports import UnitOfWork
from domain.studies import Site, Study


async def create_study(*, uow: UnitOfWork, ctx: RequestContext, code: str, title: str) -> Study:
    grant = access.require(ctx.actor, Permission.STUDY_CREATE)
    study = Study.new(code=code, title=title, now=uow.clock.now())
    async with uow:
        await uow.studies.add(study)
        uow.record(audit.created(ctx, grant, study, audit.Subject(study_id=study.id)))
        await uow.commit()
    return study


async def create_site(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    code: str,
    name: str,
    country: str,
    timezone: str,
) -> Site:
    grant = access.require(ctx.actor, Permission.SITE_CREATE, Scope(study_id=study_id))
    async with uow:
        await require_open(uow, study_id)
        site = Site.new(
            study_id=study_id,
            code=code,
            name=name,
            country=country,
            timezone=timezone,
            now=uow.clock.now(),
        )
        await uow.sites.add(site)
        subject = audit.Subject(study_id=study_id, site_id=site.id)
        uow.record(audit.created(ctx, grant, site, subject))
        await uow.commit()
    return site


async def require_open(uow: UnitOfWork, study_id: StudyId) -> Study:
    """Inside an open unit of work, before anything new enters a study: STUDY_CLOSED once it
    is closed, and until this unit of work commits the study cannot close."""
    study = await uow.studies.hold(study_id)
    if study is None:
        raise NotFound("Study")
    study.require_open()
    return study


async def list_studies(*, uow: UnitOfWork, ctx: RequestContext) -> Sequence[Study]:
    """The studies the caller may see; for a participant, the study they take part in (its
    code and title, for their app: its design stays with the staff); none for an anonymous
    caller."""
    if ctx.actor.kind is ActorKind.PARTICIPANT:
        own = {g.study_id for g in ctx.actor.grants if g.role is Role.PARTICIPANT}
        async with uow:
            found = [await uow.studies.get(s) for s in sorted(s for s in own if s is not None)]
        return [s for s in found if s is not None]
    visible = access.read_filter(ctx.actor, Permission.STUDY_READ)
    if visible.nothing:
        return []
    async with uow:
        return await uow.studies.list(visible)


async def get_study(*, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId) -> Study:
    async with uow:
        study = await uow.studies.get(study_id)
    return access.visible(ctx.actor, Permission.STUDY_READ, study, _study_scope, "Study")


async def get_site(*, uow: UnitOfWork, ctx: RequestContext, site_id: SiteId) -> Site:
    async with uow:
        site = await uow.sites.get(site_id)
    return access.visible(ctx.actor, Permission.SITE_READ, site, site_scope, "Site")


async def list_sites(
    *, uow: UnitOfWork, ctx: RequestContext, study_ids: Sequence[StudyId]
) -> Sequence[Site]:
    """Sites of the given studies that the caller may see, for batched loading."""
    visible = access.read_filter(ctx.actor, Permission.SITE_READ)
    if visible.nothing or not study_ids:
        return []
    async with uow:
        return await uow.sites.list_for_studies(study_ids, visible)


def _study_scope(study: Study) -> Scope:
    return Scope(study_id=study.id)


def site_scope(site: Site) -> Scope:
    return Scope(study_id=site.study_id, site_id=site.id)


async def find_scope(
    *, uow: UnitOfWork, ctx: RequestContext, study_code: str, site_code: str | None = None
) -> tuple[Study, Site | None]:
    """A study, and optionally one of its sites, by their codes (for operators' commands)."""
    async with uow:
        study = await uow.studies.by_code(study_code.strip().upper())
        site = (
            await uow.sites.by_code(study.id, site_code.strip().upper())
            if study and site_code
            else None
        )
    study = access.visible(ctx.actor, Permission.STUDY_READ, study, _study_scope, "Study")
    if site_code and site is None:
        raise NotFound("Site")
    return study, site


async def set_site_contact(
    *, uow: UnitOfWork, ctx: RequestContext, site_id: SiteId, contact: str | None
) -> Site:
    """How participants reach their site (shown in their app): administrators and the
    study's coordinators set it; audited like every change."""
    async with uow:
        found = await uow.sites.get(site_id)
        site = access.visible(ctx.actor, Permission.SITE_READ, found, site_scope, "Site")
        grant = access.require(ctx.actor, Permission.STUDY_DESIGN, site_scope(site))
        after = site.with_contact(contact)
        await uow.sites.update(after)
        change = audit.updated(
            ctx, grant, site, after, audit.Subject(study_id=site.study_id, site_id=site.id)
        )
        if change is not None:
            uow.record(change)
        await uow.commit()
    return after


async def participation(
    *, uow: UnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> tuple[Study, Site]:
    """The study and site a participant takes part in, for whoever may see the participant:
    their app shows the study's title, the site's name and how to reach the site."""
    async with uow:
        found = await uow.participants.get(participant_id)
        if found is None or not access.allows(
            ctx.actor,
            Permission.PARTICIPANT_READ,
            Scope(found.study_id, found.site_id, found.id),
        ):
            raise NotFound("Participant")
        study = await uow.studies.get(found.study_id)
        site = await uow.sites.get(found.site_id)
    if study is None or site is None:  # pragma: no cover - foreign keys rule this out
        raise NotFound("Study")
    return study, site
