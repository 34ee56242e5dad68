"""Use cases for managing staff users."""

from __future__ import annotations

from domain import access, audit
from domain.access import Permission
from domain.actors import Grant, RequestContext, Role
from domain.auth import PasswordHasher
from domain.errors import Invalid
from domain.ports import UnitOfWork
from domain.users import StaffUser, check_password_policy, validate_grant


async def create_staff_user(
    *,
    uow: UnitOfWork,
    passwords: PasswordHasher,
    ctx: RequestContext,
    email: str,
    name: str,
    password: str,
    grants: tuple[Grant, ...],
) -> StaffUser:
    grant = access.require(ctx.actor, Permission.USER_MANAGE)
    check_password_policy(password)
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
