"""GraphQL types for signing in and out, refreshing sessions, and the current caller."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api import limits
from api.context import Info
from api.errors import MutationError, attempt
from api.relay import to_global_id
from domain.actors import ActorKind, Role
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId
from domain.services import auth as cases
from domain.sessions import SignIn

if TYPE_CHECKING:
    from api.types.participants import ParticipantType

RoleType = strawberry.enum(Role, name="Role")
ActorKindType = strawberry.enum(ActorKind, name="ActorKind")


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.type(
    description="Tokens of a session. Keep the refresh token secret; it is shown once."
)
class Session:
    access_token: str = strawberry.field(description="Send as 'Authorization: Bearer <token>'.")
    expires_at: datetime = strawberry.field(description="When the access token expires.")
    refresh_token: str = strawberry.field(description="Single use: refreshSession rotates it.")
    refresh_expires_at: datetime
    installation_id: str | None = strawberry.field(
        description="The paired app installation (participants); send it with refreshSession."
    )

    @classmethod
    def of(cls, signed_in: SignIn) -> Session:
        return cls(
            access_token=signed_in.access_token,
            expires_at=signed_in.access_expires_at,
            refresh_token=signed_in.refresh_token,
            refresh_expires_at=signed_in.refresh_expires_at,
            installation_id=str(signed_in.installation_id) if signed_in.installation_id else None,
        )


@strawberry.type
class LoginSuccess(Session):
    pass


@strawberry.input
class RefreshSessionInput:
    refresh_token: str
    installation_id: str | None = strawberry.field(
        default=None, description="Required for participants' sessions: the paired installation."
    )


@strawberry.type
class RefreshSessionSuccess(Session):
    pass


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str = strawberry.field(description="At least 12 characters.")


@strawberry.type(description="Done; nothing to return.")
class Done:
    ok: bool = True


LoginResult = Annotated[LoginSuccess | MutationError, strawberry.union("LoginResult")]
RefreshSessionResult = Annotated[
    RefreshSessionSuccess | MutationError, strawberry.union("RefreshSessionResult")
]
DoneResult = Annotated[Done | MutationError, strawberry.union("DoneResult")]


@strawberry.type(description="A role you hold, and where.")
class GrantType:
    role: Role
    study_id: strawberry.ID | None
    site_id: strawberry.ID | None


@strawberry.type(name="Viewer", description="Who you are to Hearth in this request.")
class ViewerType:
    kind: ActorKind
    id: str | None
    grants: list[GrantType]

    @strawberry.field(description="Your own participant record, if you are a participant.")
    async def participant(
        self, info: Info
    ) -> Annotated[ParticipantType, strawberry.lazy("api.types.participants")] | None:
        from api.types.participants import participant_by_id

        actor = info.context.caller.actor
        if actor.kind is not ActorKind.PARTICIPANT or actor.id is None:
            return None
        return await participant_by_id(info, ParticipantId(actor.id))


def _installation(raw: str | None) -> uuid.UUID | None:
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as error:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED,
            "Send the installationId the app was given when it was paired.",
            field="installation_id",
        ) from error


@strawberry.type
class AuthQueries:
    @strawberry.field(description="The caller: anonymous until signed in.")
    def viewer(self, info: Info) -> ViewerType:
        actor = info.context.caller.actor
        return ViewerType(
            kind=actor.kind,
            id=str(actor.id) if actor.id else None,
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
    @strawberry.mutation(
        description="Sign in as staff: a short-lived access token and a refresh token."
    )
    async def login(self, info: Info, input: LoginInput) -> LoginResult:
        async def run() -> LoginSuccess:
            await limits.enforce(info, limits.LOGIN_PER_IP, limits.client_address(info))
            await limits.enforce(info, limits.LOGIN_PER_ACCOUNT, input.email.strip().casefold())
            services = info.context.services
            signed_in = await cases.login(
                uow=services.uow(),
                passwords=services.passwords,
                tokens=services.tokens,
                ctx=info.context.caller,
                email=input.email,
                password=input.password,
            )
            return LoginSuccess(**Session.of(signed_in).__dict__)

        return await attempt(run)

    @strawberry.mutation(
        description="Trade a refresh token for new tokens; reusing one ends the session. "
        "A participant's app that lost the answer may ask again with the same token from the "
        "same installation within two minutes and gets the same new pair."
    )
    async def refresh_session(self, info: Info, input: RefreshSessionInput) -> RefreshSessionResult:
        async def run() -> RefreshSessionSuccess:
            await limits.enforce(info, limits.REFRESH_PER_IP, limits.client_address(info))
            signed_in = await cases.refresh(
                uow=info.context.services.uow(),
                tokens=info.context.services.tokens,
                ctx=info.context.caller,
                refresh_token=input.refresh_token,
                installation_id=_installation(input.installation_id),
            )
            return RefreshSessionSuccess(**Session.of(signed_in).__dict__)

        return await attempt(run)

    @strawberry.mutation(description="End this session: its tokens stop working at once.")
    async def logout(self, info: Info) -> DoneResult:
        async def run() -> Done:
            await cases.logout(uow=info.context.services.uow(), ctx=info.context.caller)
            return Done()

        return await attempt(run)

    @strawberry.mutation(description="Change your own password; all your sessions end.")
    async def change_password(self, info: Info, input: ChangePasswordInput) -> DoneResult:
        async def run() -> Done:
            await cases.change_password(
                uow=info.context.services.uow(),
                passwords=info.context.services.passwords,
                screen=info.context.services.password_screen,
                ctx=info.context.caller,
                current=input.current_password,
                new=input.new_password,
            )
            return Done()

        return await attempt(run)
