"""GraphQL types for signing in and for the current caller."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import to_global_id
from domain.actors import ActorKind, Role
from domain.services import auth as cases

RoleType = strawberry.enum(Role, name="Role")
ActorKindType = strawberry.enum(ActorKind, name="ActorKind")


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.type
class LoginSuccess:
    access_token: str = strawberry.field(description="Send as 'Authorization: Bearer <token>'.")
    expires_at: datetime


LoginResult = Annotated[LoginSuccess | MutationError, strawberry.union("LoginResult")]


@strawberry.type(description="A role you hold, and where.")
class GrantType:
    role: RoleType  # type: ignore[valid-type]
    study_id: strawberry.ID | None
    site_id: strawberry.ID | None


@strawberry.type(name="Viewer", description="Who you are to Hearth in this request.")
class ViewerType:
    kind: ActorKindType  # type: ignore[valid-type]
    grants: list[GrantType]


@strawberry.type
class AuthQueries:
    @strawberry.field(description="The caller: anonymous until signed in.")
    def viewer(self, info: Info) -> ViewerType:
        actor = info.context.caller.actor
        return ViewerType(
            kind=actor.kind,
            grants=[
                GrantType(
                    role=g.role,
                    study_id=to_global_id("Study", g.study_id) if g.study_id else None,
                    site_id=to_global_id("Site", g.site_id) if g.site_id else None,
                )
                for g in actor.grants
            ],
        )


@strawberry.type
class AuthMutations:
    @strawberry.mutation(description="Sign in as staff; returns a short-lived access token.")
    async def login(self, info: Info, input: LoginInput) -> LoginResult:
        async def run() -> LoginSuccess:
            services = info.context.services
            issued = await cases.login(
                uow=services.uow(),
                passwords=services.passwords,
                tokens=services.tokens,
                ctx=info.context.caller,
                email=input.email,
                password=input.password,
            )
            return LoginSuccess(access_token=issued.token, expires_at=issued.expires_at)

        return await attempt(run)
