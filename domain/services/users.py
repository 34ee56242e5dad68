"""Use cases for managing staff users."""

from __future__ import annotations

from domain import access, audit
from domain.access import Permission
from domain.actors import Grant, RequestContext, Role
from domain.auth import PasswordHasher
from domain.errors import DomainError, ErrorCode, Invalid, NotFound
from domain.ids import UserId
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.sessions import RevokeReason
from domain.users import (
    PasswordScreen,
    StaffUser,
    UserStatus,
    check_new_password,
    validate_grant,
)


async def create_staff_user(
    *,
    uow: UnitOfWork,
    passwords: PasswordHasher,
    screen: PasswordScreen,
    ctx: RequestContext,
    email: str,
    name: str,
    password: str,
    grants: tuple[Grant, ...],
) -> StaffUser:
    """A new staff account (administrators; `hearth users create` on the server)."""
    grant = access.require(ctx.actor, Permission.USER_MANAGE)
    check_new_password(password, email=email, name=name, screen=screen)
    checked = tuple(validate_grant(g) for g in grants)
    async with uow:
        checked = tuple([await _with_study(uow, g) for g in checked])
        user = StaffUser.new(email=email, name=name, grants=checked, now=uow.clock.now())
        await uow.users.add(user, passwords.hash(password))
        uow.record(audit.created(ctx, grant, user, audit.Subject(data_owner=user.id)))
        await uow.commit()
    return user


async def _with_study(uow: UnitOfWork, grant: Grant) -> Grant:
    """Site grants carry their study too, so the policy can check both in one step."""
    if grant.site_id is None:
        return grant
    site = await uow.sites.get(grant.site_id)
    if site is None:
        raise Invalid("site_id", "No such site.")
    return Grant(role=grant.role, study_id=site.study_id, site_id=site.id)


async def administrators_exist(*, uow: UnitOfWork) -> bool:
    async with uow:
        return await uow.users.any_with_role(Role.ADMIN)


async def _user(uow: UnitOfWork, user_id: UserId) -> StaffUser:
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound("User")
    return user


async def set_grants(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    user_id: UserId,
    add: tuple[Grant, ...] = (),
    remove: tuple[Grant, ...] = (),
) -> StaffUser:
    """Grant and revoke roles (administrators); the change is effective on the next request."""
    grant = access.require(ctx.actor, Permission.USER_MANAGE)
    checked = tuple(validate_grant(g) for g in add)
    async with uow:
        before = await _user(uow, user_id)
        added = tuple([await _with_study(uow, g) for g in checked])
        dropped = {(g.role, g.site_id or g.study_id) for g in remove}
        kept = tuple(g for g in before.grants if (g.role, g.site_id or g.study_id) not in dropped)
        grants = kept + tuple(g for g in added if g not in kept)
        after = before.with_grants(grants)
        await uow.users.update(after)
        change = audit.updated(ctx, grant, before, after, audit.Subject(data_owner=user_id))
        if change is not None:
            uow.record(change)
        await uow.commit()
    return after


async def set_status(
    *, uow: UnitOfWork, ctx: RequestContext, user_id: UserId, status: UserStatus, reason: str
) -> StaffUser:
    """Disable or enable an account (administrators). Ids are never reused: no deletion."""
    grant = access.require(ctx.actor, Permission.USER_MANAGE)
    if ctx.actor.id == user_id and status is UserStatus.DISABLED:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "You cannot disable yourself.", field="user_id"
        )
    async with uow:
        before = await _user(uow, user_id)
        after = before.with_status(status)
        await uow.users.update(after)
        if status is UserStatus.DISABLED:
            await uow.sessions.revoke_subject(user_id, RevokeReason.DISABLED, uow.clock.now())
        change = audit.updated(
            ctx,
            grant,
            before,
            after,
            audit.Subject(data_owner=user_id),
            action="status_changed",
            reason=reason,
        )
        if change is not None:
            uow.record(change)
        await uow.commit()
    return after


async def page_users(
    *, uow: UnitOfWork, ctx: RequestContext, request: PageRequest
) -> Page[StaffUser]:
    access.require(ctx.actor, Permission.USER_MANAGE)
    async with uow:
        return await uow.users.page(request)


async def get_user(*, uow: UnitOfWork, ctx: RequestContext, user_id: UserId) -> StaffUser:
    """Administrators see every account; staff see their own."""
    if ctx.actor.id != user_id:
        access.require(ctx.actor, Permission.USER_MANAGE)
    async with uow:
        return await _user(uow, user_id)


async def find_by_email(*, uow: UnitOfWork, ctx: RequestContext, email: str) -> StaffUser:
    access.require(ctx.actor, Permission.USER_MANAGE)
    async with uow:
        found = await uow.users.find_credentials(email.strip().casefold())
    if found is None:
        raise NotFound("User")
    return found[0]
