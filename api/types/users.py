"""GraphQL types and mutations for managing staff users (administrators)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.exposure import expose
from api.relay import Connection, Node, from_global_id, page_request, to_global_id
from api.types.auth import GrantType
from domain.actors import Grant, Role
from domain.errors import Forbidden, NotFound
from domain.ids import SiteId, StudyId, UserId
from domain.services import users as cases
from domain.users import StaffUser, UserStatus

UserStatusType = strawberry.enum(UserStatus, name="UserStatus")


@strawberry.type(name="StaffUser", description="A staff account (administrators only).")
class StaffUserType(Node):
    email: str
    name: str = strawberry.field(description="Printed name, as shown on signatures.")
    status: UserStatus
    created_at: datetime
    locked_until: datetime | None
    version: int
    entity: strawberry.Private[StaffUser]

    @strawberry.field
    def grants(self) -> list[GrantType]:
        return [
            GrantType(
                role=g.role,
                study_id=to_global_id("Study", g.study_id) if g.study_id else None,
                site_id=to_global_id("Site", g.site_id) if g.site_id else None,
            )
            for g in self.entity.grants
        ]


@strawberry.input(description="A role and where it applies: a site, a whole study, or everywhere.")
class GrantInput:
    role: Role
    study_id: strawberry.ID | None = strawberry.field(default=None, description="Data managers.")
    site_id: strawberry.ID | None = strawberry.field(
        default=None, description="Coordinators, investigators, monitors."
    )

    def to_grant(self) -> Grant:
        return Grant(
            role=Role(self.role),
            study_id=StudyId(from_global_id(self.study_id, "Study")[1]) if self.study_id else None,
            site_id=SiteId(from_global_id(self.site_id, "Site")[1]) if self.site_id else None,
        )


@strawberry.input
class CreateStaffUserInput:
    email: str
    name: str
    password: str = strawberry.field(description="An initial password, at least 12 characters.")
    grants: list[GrantInput]


@strawberry.input
class SetGrantsInput:
    user_id: strawberry.ID
    add: list[GrantInput] = strawberry.field(default_factory=list)
    remove: list[GrantInput] = strawberry.field(default_factory=list)


@strawberry.input
class SetUserStatusInput:
    user_id: strawberry.ID
    status: UserStatus
    reason: str


@strawberry.type
class StaffUserSuccess:
    user: StaffUserType


StaffUserResult = Annotated[StaffUserSuccess | MutationError, strawberry.union("StaffUserResult")]


def _user_id(raw: strawberry.ID) -> UserId:
    return UserId(from_global_id(raw, "StaffUser")[1])


def _success(user: StaffUser) -> StaffUserSuccess:
    return StaffUserSuccess(user=expose(StaffUserType, user))


async def staff_user_by_id(info: Info, raw: UserId) -> StaffUserType | None:
    try:
        user = await cases.get_user(
            uow=info.context.services.uow(), ctx=info.context.caller, user_id=raw
        )
    except (Forbidden, NotFound):
        return None
    return expose(StaffUserType, user)


@strawberry.type
class UserQueries:
    @strawberry.field(description="Staff accounts, oldest first (administrators).")
    async def staff_users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[StaffUserType]:
        page = await cases.page_users(
            uow=info.context.services.uow(),
            ctx=info.context.caller,
            request=page_request(first, after, "user", uuid.UUID, last=last, before=before),
        )
        return Connection[StaffUserType].of(
            page, lambda u: expose(StaffUserType, u), lambda u: (str(u.id),), "user"
        )


@strawberry.type
class UserMutations:
    @strawberry.mutation(description="Create a staff account (administrators).")
    async def create_staff_user(self, info: Info, input: CreateStaffUserInput) -> StaffUserResult:
        async def run() -> StaffUserSuccess:
            return _success(
                await cases.create_staff_user(
                    uow=info.context.services.uow(),
                    passwords=info.context.services.passwords,
                    screen=info.context.services.password_screen,
                    ctx=info.context.caller,
                    email=input.email,
                    name=input.name,
                    password=input.password,
                    grants=tuple(g.to_grant() for g in input.grants),
                )
            )

        return await attempt(run)

    @strawberry.mutation(description="Grant and revoke roles (administrators).")
    async def set_staff_grants(self, info: Info, input: SetGrantsInput) -> StaffUserResult:
        async def run() -> StaffUserSuccess:
            return _success(
                await cases.set_grants(
                    uow=info.context.services.uow(),
                    ctx=info.context.caller,
                    user_id=_user_id(input.user_id),
                    add=tuple(g.to_grant() for g in input.add),
                    remove=tuple(g.to_grant() for g in input.remove),
                )
            )

        return await attempt(run)

    @strawberry.mutation(description="Disable (ends all sessions) or enable an account.")
    async def set_staff_user_status(self, info: Info, input: SetUserStatusInput) -> StaffUserResult:
        async def run() -> StaffUserSuccess:
            return _success(
                await cases.set_status(
                    uow=info.context.services.uow(),
                    ctx=info.context.caller,
                    user_id=_user_id(input.user_id),
                    status=UserStatus(input.status),
                    reason=input.reason,
                )
            )

        return await attempt(run)
