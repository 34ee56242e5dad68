"""Use cases for enrolling a participant's phone: issue a code, exchange it for a session."""

from __future__ import annotations

from domain import access, audit
from domain.access import Permission
from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.auth import TokenService
from domain.enrolment import (
    CODE_LIFETIME,
    AppInstallation,
    EnrolmentCode,
    IssuedCode,
    Platform,
    deep_link,
    new_code,
    normalise_code,
)
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, new_id
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.services.auth import open_session
from domain.services.participants import participant_scope
from domain.sessions import RevokeReason, SignIn


def _subject(p: Participant) -> audit.Subject:
    return audit.Subject(study_id=p.study_id, site_id=p.site_id, participant_id=p.id)


def _can_enrol(participant: Participant) -> None:
    if participant.erased_at is not None:
        raise DomainError(ErrorCode.PARTICIPANT_ERASED, "This participant's data was erased.")
    if not participant.is_active:
        raise DomainError(
            ErrorCode.PARTICIPANT_WITHDRAWN, "This participant no longer takes part in the study."
        )


async def issue_code(
    *, uow: UnitOfWork, tokens: TokenService, ctx: RequestContext, participant_id: ParticipantId
) -> IssuedCode:
    """A single-use enrolment code for the participant's app, shown once (site staff).

    Earlier unused codes of the participant stop working. Only a keyed digest is stored.
    """
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        grant = access.require(
            ctx.actor, Permission.PARTICIPANT_UPDATE, participant_scope(participant)
        )
        _can_enrol(participant)
        now = uow.clock.now()
        code = new_code()
        record = EnrolmentCode(
            id=new_id(), participant_id=participant.id, expires_at=now + CODE_LIFETIME
        )
        await uow.enrolment.void_codes(participant.id, now)
        await uow.enrolment.add_code(record, tokens.digest(normalise_code(code)))
        uow.record(
            audit.Change(
                entity_type="EnrolmentCode",
                entity_id=record.id,
                action="issued",
                fields=(audit.FieldChange("expires_at", None, record.expires_at.isoformat()),),
                actor=ctx.actor,
                role=grant.role,
                origin=ctx.origin,
                subject=_subject(participant),
            )
        )
        await uow.commit()
    return IssuedCode(code=code, expires_at=record.expires_at, deep_link=deep_link(code))


async def enrol(
    *,
    uow: UnitOfWork,
    tokens: TokenService,
    ctx: RequestContext,
    code: str,
    platform: Platform,
    model: str,
    os_version: str,
    app_version: str,
) -> SignIn:
    """The app trades a code and a description of the phone for a session bound to that phone.

    Pairing a new phone unpairs the old one and ends its sessions.
    """
    digest = tokens.digest(normalise_code(code))
    async with uow:
        now = uow.clock.now()
        record = await uow.enrolment.find_code(digest)
        if record is None:
            raise DomainError(ErrorCode.ENROLMENT_CODE_INVALID, "This enrolment code is not valid.")
        if record.used_at is not None or not await uow.enrolment.use_code(record.id, now):
            raise DomainError(
                ErrorCode.ENROLMENT_CODE_USED, "This enrolment code was used already."
            )
        if now >= record.expires_at:
            raise DomainError(
                ErrorCode.ENROLMENT_CODE_EXPIRED, "This enrolment code has expired; ask your site."
            )
        participant = await uow.participants.get(record.participant_id)
        if participant is None:
            raise DomainError(ErrorCode.ENROLMENT_CODE_INVALID, "This enrolment code is not valid.")
        _can_enrol(participant)
        installation = AppInstallation.pair(
            participant_id=participant.id,
            platform=platform,
            model=model,
            os_version=os_version,
            app_version=app_version,
            now=now,
        )
        await uow.enrolment.unpair_all(participant.id, now)
        await uow.sessions.revoke_subject(participant.id, RevokeReason.REPAIRED, now)
        await uow.enrolment.add_installation(installation)
        signed_in = await open_session(
            uow,
            tokens,
            subject=participant.id,
            kind=ActorKind.PARTICIPANT,
            installation_id=installation.id,
        )
        me = Actor(
            ActorKind.PARTICIPANT,
            participant.id,
            (Grant(Role.PARTICIPANT, participant.study_id, participant.site_id),),
            signed_in.session_id,
        )
        paired = RequestContext(actor=me, origin=ctx.origin)
        uow.record(audit.created(paired, me.grants[0], installation, _subject(participant)))
        await uow.commit()
    return signed_in
