"""Use cases for signing in and for turning a verified token into an actor."""

from __future__ import annotations

from domain import audit
from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.auth import IssuedToken, PasswordHasher, TokenClaims, TokenService
from domain.errors import DomainError, ErrorCode, Unauthenticated
from domain.ids import UserId
from domain.ports import UnitOfWork
from domain.users import StaffUser

_BAD_CREDENTIALS = "The e-mail or password is not correct."


async def login(
    *,
    uow: UnitOfWork,
    passwords: PasswordHasher,
    tokens: TokenService,
    ctx: RequestContext,
    email: str,
    password: str,
) -> IssuedToken:
    """Check a staff member's password and issue an access token.

    Unknown e-mail, wrong password and disabled account give the same answer and take the
    same time, so the answer never tells whether an account exists.
    """
    async with uow:
        found = await uow.users.find_credentials(email.strip().casefold())
        if found is None:
            passwords.burn(password)
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, _BAD_CREDENTIALS)
        user, hashed = found
        if not passwords.verify(hashed, password) or not user.is_active:
            uow.record(_security_event(ctx, user, "login_failed"))
            await uow.commit()
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, _BAD_CREDENTIALS)
        if passwords.needs_rehash(hashed):
            await uow.users.set_password_hash(user.id, passwords.hash(password))
        uow.record(_security_event(ctx, user, "login_succeeded"))
        await uow.commit()
    return tokens.issue_access(subject=user.id, kind=ActorKind.STAFF)


def _security_event(ctx: RequestContext, user: StaffUser, action: str) -> audit.Change:
    return audit.Change(
        entity_type=user.ENTITY,
        entity_id=user.id,
        action=action,
        fields=(),
        actor=Actor(kind=ActorKind.STAFF, id=user.id),
        role=_primary_role(user.grants),
        origin=ctx.origin,
        subject=audit.Subject(),
    )


def _primary_role(grants: tuple[Grant, ...]) -> Role:
    return grants[0].role if grants else Role.COORDINATOR


async def resolve_actor(*, uow: UnitOfWork, claims: TokenClaims) -> Actor:
    """The actor behind a verified token, with grants read fresh so revocation is immediate."""
    if claims.kind is not ActorKind.STAFF:
        raise Unauthenticated
    async with uow:
        grants = await uow.users.active_grants(UserId(claims.subject))
    if grants is None:
        raise Unauthenticated
    return Actor(kind=ActorKind.STAFF, id=claims.subject, grants=grants)
