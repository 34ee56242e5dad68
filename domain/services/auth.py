"""Use cases for signing in and out, refreshing sessions, and knowing who is calling."""

from __future__ import annotations

import uuid
from datetime import datetime

from domain import audit
from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.auth import PasswordHasher, TokenClaims, TokenService
from domain.clock import Clock
from domain.errors import DomainError, ErrorCode, Unauthenticated
from domain.ids import ParticipantId, UserId, new_id
from domain.ports import CallerLookup, UnitOfWork
from domain.sessions import (
    Caller,
    RefreshRecord,
    RefreshState,
    RevokeReason,
    Session,
    SignIn,
    session_lifetime,
)
from domain.users import (
    LOCKOUT,
    MAX_FAILED_LOGINS,
    PasswordScreen,
    StaffUser,
    check_new_password,
    check_password_policy,
)

# One answer for unknown e-mail, wrong password, locked or disabled account: no enumeration.
_BAD_CREDENTIALS = "The e-mail or password is not correct, or the account is locked for a while."
# Same code for both (the console and the app each know what they are); each says what the
# person can do: staff sign in again, a participant has no password and needs a new code.
_STAFF_ENDED = "This session has ended; sign in again."
_APP_ENDED = (
    "This app is no longer signed in. Ask your study site for a new enrolment code "
    "and scan it to pair the app again; nothing you entered before is lost."
)


def _refused() -> DomainError:
    return DomainError(ErrorCode.INVALID_CREDENTIALS, _BAD_CREDENTIALS)


def _ended(participant: bool) -> DomainError:
    return DomainError(ErrorCode.INVALID_REFRESH_TOKEN, _APP_ENDED if participant else _STAFF_ENDED)


def session_ended(session: Session | None, installation_id: uuid.UUID | None) -> DomainError:
    """INVALID_REFRESH_TOKEN, worded for whoever holds the session (a participant's app
    sends its installation; an unknown token is judged by that alone)."""
    if session is not None:
        return _ended(session.subject_kind is ActorKind.PARTICIPANT)
    return _ended(installation_id is not None)


async def login(
    *,
    uow: UnitOfWork,
    passwords: PasswordHasher,
    tokens: TokenService,
    ctx: RequestContext,
    email: str,
    password: str,
) -> SignIn:
    """Check a staff member's password; open a session with a refresh token.

    Every outcome is a security event in the audit trail; failures count towards a lockout.
    """
    async with uow:
        now = uow.clock.now()
        found = await uow.users.find_credentials(email.strip().casefold())
        if found is None:
            passwords.burn(password)  # same time as a real check: existence does not show
            pseudonym = uuid.UUID(bytes=tokens.digest(f"login:{email.strip().casefold()}")[:16])
            uow.record(_security(ctx, "UnknownAccount", pseudonym, "login_failed"))
            await uow.commit()
            raise _refused()
        user, hashed = found
        if not user.is_active or user.is_locked(now):
            passwords.burn(password)
            action = "login_refused_locked" if user.is_active else "login_refused_disabled"
            uow.record(_security(ctx, user.ENTITY, user.id, action))
            await uow.commit()
            raise _refused()
        if not passwords.verify(hashed, password):
            locked_until = await uow.users.record_failure(
                user.id, now, threshold=MAX_FAILED_LOGINS, lock_for=LOCKOUT
            )
            uow.record(_security(ctx, user.ENTITY, user.id, "login_failed"))
            if locked_until is not None:
                uow.record(_security(ctx, user.ENTITY, user.id, "locked", until=locked_until))
            await uow.commit()
            raise _refused()
        if user.failed_logins:
            await uow.users.clear_failures(user.id)
        if passwords.needs_rehash(hashed):
            await uow.users.set_password_hash(user.id, passwords.hash(password))
        signed_in = await open_session(uow, tokens, subject=user.id, kind=ActorKind.STAFF)
        me = Actor(ActorKind.STAFF, user.id, user.grants, signed_in.session_id)
        uow.record(_security(ctx, user.ENTITY, user.id, "login_succeeded", actor=me))
        await uow.commit()
    return signed_in


async def open_session(
    uow: UnitOfWork,
    tokens: TokenService,
    *,
    subject: uuid.UUID,
    kind: ActorKind,
    installation_id: uuid.UUID | None = None,
) -> SignIn:
    """A new session (refresh-token family) with its first refresh token and an access token."""
    now = uow.clock.now()
    session = Session(
        id=new_id(),
        subject_id=subject,
        subject_kind=kind,
        installation_id=installation_id,
        created_at=now,
        expires_at=now + session_lifetime(kind),
    )
    await uow.sessions.add(session)
    return await _tokens_for(uow, tokens, session, now, tokens.new_secret())


async def _tokens_for(
    uow: UnitOfWork, tokens: TokenService, session: Session, now: datetime, secret: str
) -> SignIn:
    issued = RefreshRecord(new_id(), session, session.refresh_expiry(now), None, now)
    await uow.sessions.add_refresh(
        session.id,
        tokens.digest(secret),
        issued.expires_at,
        token_id=issued.token_id,
        issued_at=now,
    )
    return _sign_in(tokens, secret, issued)


def _sign_in(tokens: TokenService, secret: str, refresh: RefreshRecord) -> SignIn:
    """The pair for a stored refresh token: the access token is derived from its id and
    issue time, so the same stored token always yields the same access token."""
    session = refresh.session
    access = tokens.issue_access(
        subject=session.subject_id,
        kind=session.subject_kind,
        session_id=session.id,
        issued_at=refresh.issued_at,
        token_id=refresh.token_id,
    )
    return SignIn(
        access_token=access.token,
        access_expires_at=access.expires_at,
        refresh_token=secret,
        refresh_expires_at=refresh.expires_at,
        session_id=session.id,
        subject_id=session.subject_id,
        installation_id=session.installation_id,
    )


async def refresh(
    *,
    uow: UnitOfWork,
    tokens: TokenService,
    ctx: RequestContext,
    refresh_token: str,
    installation_id: uuid.UUID | None = None,
) -> SignIn:
    """Trade a refresh token for new tokens; the old one stops working.

    A token presented twice was copied: the whole session is revoked (reuse detection),
    except for a participant's app retrying a refresh whose answer it lost (see
    `domain/sessions.py`): it gets the same pair again. A participant's token works only
    with the installation it was issued to.
    """
    async with uow:
        now = uow.clock.now()
        record, state = await _presented(uow, tokens, refresh_token, installation_id)
        if state is RefreshState.USED:
            again = await _retried(
                uow, tokens, used=record, secret=refresh_token, installation_id=installation_id
            )
            if again is not None:
                uow.record(
                    _security(ctx, "Participant", record.session.subject_id, "refresh_retried")
                )
                await uow.commit()
                return again
            await _revoke_reused(uow, ctx, record.session)
        if state is not RefreshState.VALID:
            raise session_ended(record.session, installation_id)
        await _still_allowed(uow, record.session)
        successor = tokens.successor(refresh_token)
        signed_in = await _tokens_for(uow, tokens, record.session, now, successor)
        await uow.commit()
    return signed_in


async def _presented(
    uow: UnitOfWork, tokens: TokenService, secret: str, installation_id: uuid.UUID | None
) -> tuple[RefreshRecord, RefreshState]:
    """The stored token and its state; a valid one is marked used here (one caller wins)."""
    now = uow.clock.now()
    record = await uow.sessions.find_refresh(tokens.digest(secret))
    if record is None:
        raise session_ended(None, installation_id)
    bound, state = record.session.installation_id, record.state(now)
    if state is not RefreshState.VALID:
        return record, state
    if bound is not None and bound != installation_id:
        raise session_ended(record.session, installation_id)
    if await uow.sessions.use_refresh(record.token_id, now):
        return record, state
    # A concurrent request used it first; read it again to learn when.
    return await uow.sessions.find_refresh(tokens.digest(secret)) or record, RefreshState.USED


async def _revoke_reused(uow: UnitOfWork, ctx: RequestContext, session: Session) -> None:
    """A copied token: the whole session ends, and that is committed before the refusal."""
    await uow.sessions.revoke(session.id, RevokeReason.REUSE_DETECTED, uow.clock.now())
    entity = "StaffUser" if session.subject_kind is ActorKind.STAFF else "Participant"
    uow.record(_security(ctx, entity, session.subject_id, "refresh_token_reused"))
    await uow.commit()


async def _retried(
    uow: UnitOfWork,
    tokens: TokenService,
    *,
    used: RefreshRecord,
    secret: str,
    installation_id: uuid.UUID | None,
) -> SignIn | None:
    """The pair this token was already traded for, if this is a retry after a lost answer."""
    now = uow.clock.now()
    if not used.may_retry(now, installation_id):
        return None
    successor = tokens.successor(secret)
    found = await uow.sessions.find_refresh(tokens.digest(successor))
    if found is None or not found.answers_retry_of(used, now):
        return None
    await _still_allowed(uow, found.session)
    return _sign_in(tokens, successor, found)


async def _still_allowed(uow: UnitOfWork, session: Session) -> None:
    if session.subject_kind is ActorKind.STAFF:
        if await uow.users.active_grants(UserId(session.subject_id)) is None:
            raise session_ended(session, None)
        return
    participant = await uow.participants.get(ParticipantId(session.subject_id))
    if participant is None or participant.erased_at is not None:
        raise session_ended(session, None)


async def logout(*, uow: UnitOfWork, ctx: RequestContext) -> None:
    """End the caller's session: its refresh tokens and access tokens stop working now."""
    actor = ctx.actor
    if actor.session_id is None or actor.id is None:
        raise Unauthenticated
    async with uow:
        await uow.sessions.revoke(actor.session_id, RevokeReason.LOGOUT, uow.clock.now())
        entity = "StaffUser" if actor.kind is ActorKind.STAFF else "Participant"
        uow.record(_security(ctx, entity, actor.id, "logout"))
        await uow.commit()


async def change_password(
    *,
    uow: UnitOfWork,
    passwords: PasswordHasher,
    screen: PasswordScreen,
    ctx: RequestContext,
    current: str,
    new: str,
) -> None:
    """A staff member's own password; every session of theirs ends, this one included."""
    actor = ctx.actor
    if actor.kind is not ActorKind.STAFF or actor.id is None:
        raise Unauthenticated
    check_password_policy(new)
    async with uow:
        user = await uow.users.get(UserId(actor.id))
        found = await uow.users.find_credentials(user.email) if user else None
        if user is None or found is None or not passwords.verify(found[1], current):
            raise DomainError(
                ErrorCode.INVALID_CREDENTIALS,
                "The current password is not correct.",
                field="current",
            )
        check_new_password(new, email=user.email, name=user.name, screen=screen)
        await uow.users.set_password_hash(user.id, passwords.hash(new))
        await uow.sessions.revoke_subject(user.id, RevokeReason.PASSWORD_CHANGED, uow.clock.now())
        uow.record(_security(ctx, user.ENTITY, user.id, "password_changed"))
        await uow.commit()


async def resolve_actor(*, uow: UnitOfWork, claims: TokenClaims) -> Actor:
    """The actor behind a verified token; session and grants read fresh: revocation is immediate."""
    async with uow:
        caller = await uow.sessions.caller(claims.session_id, claims.subject, uow.clock.now())
    return actor_of(claims, caller)


async def identify(*, callers: CallerLookup, clock: Clock, claims: TokenClaims) -> Actor:
    """`resolve_actor` for every request: the same fresh read, in one round trip."""
    return actor_of(claims, await callers.caller(claims.session_id, claims.subject, clock.now()))


def actor_of(claims: TokenClaims, caller: Caller | None) -> Actor:
    """The actor a token stands for, given its session's caller as stored now."""
    if caller is None or caller.kind is not claims.kind:
        raise Unauthenticated
    if caller.kind is ActorKind.STAFF and caller.grants is not None:
        return Actor(ActorKind.STAFF, claims.subject, caller.grants, claims.session_id)
    if caller.kind is ActorKind.PARTICIPANT and caller.placement is not None:
        study_id, site_id = caller.placement
        grant = Grant(Role.PARTICIPANT, study_id, site_id)
        return Actor(ActorKind.PARTICIPANT, claims.subject, (grant,), claims.session_id)
    raise Unauthenticated


def acting_role(actor: Actor) -> Role:
    """The role an actor's event is logged under: their first grant, or ANONYMOUS."""
    if actor.kind is ActorKind.ANONYMOUS or not actor.grants:
        return Role.ANONYMOUS
    return actor.grants[0].role


def _security(
    ctx: RequestContext,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    *,
    actor: Actor | None = None,
    until: datetime | None = None,
) -> audit.Change:
    """A security event about an account; the actor is whoever made the request."""
    who = actor or ctx.actor
    fields = (audit.FieldChange("locked_until", None, until.isoformat()),) if until else ()
    return audit.Change(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        fields=fields,
        actor=who,
        role=acting_role(who),
        origin=ctx.origin,
        subject=audit.Subject(),
    )


async def reauthenticate(
    uow: UnitOfWork, passwords: PasswordHasher, ctx: RequestContext, password: str
) -> StaffUser:
    """Part 11 signing needs the signer's password again; failures count towards the lockout.

    Call inside an open unit of work. On failure the attempt is committed, then refused.
    """
    actor = ctx.actor
    if actor.kind is not ActorKind.STAFF or actor.id is None:
        raise Unauthenticated
    user = await uow.users.get(UserId(actor.id))
    found = await uow.users.find_credentials(user.email) if user else None
    now = uow.clock.now()
    if (
        user is None
        or found is None
        or user.is_locked(now)
        or not passwords.verify(found[1], password)
    ):
        if user is not None:
            await uow.users.record_failure(
                user.id, now, threshold=MAX_FAILED_LOGINS, lock_for=LOCKOUT
            )
            uow.record(_security(ctx, user.ENTITY, user.id, "signature_password_failed"))
            await uow.commit()
        raise DomainError(
            ErrorCode.INVALID_CREDENTIALS, "The password is not correct.", field="password"
        )
    return user
