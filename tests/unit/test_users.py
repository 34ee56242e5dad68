"""Staff users, password policy and sign-in, on in-memory fakes."""

from __future__ import annotations

import uuid

import pytest

from domain.actors import ActorKind, Grant, Role
from domain.auth import TokenClaims
from domain.errors import DomainError, ErrorCode, Unauthenticated
from domain.services import auth, users
from domain.users import check_password_policy, validate_grant
from tests.factories import admin, caller, make_site
from tests.fakes import FakePasswords, FakePasswordScreen, FakeTokens, FakeUnitOfWork

PASSWORD = "correct horse battery"


@pytest.mark.parametrize("password", ["short", "a" * 20, "x" * 300])
def test_password_policy(password: str) -> None:
    with pytest.raises(DomainError):
        check_password_policy(password)


def test_grants_must_fit_their_role() -> None:
    site = make_site()
    with pytest.raises(DomainError):
        validate_grant(Grant(Role.COORDINATOR, site.study_id))
    with pytest.raises(DomainError):
        validate_grant(Grant(Role.ADMIN, site.study_id))
    with pytest.raises(DomainError):
        validate_grant(Grant(Role.PARTICIPANT, site.study_id, site.id))
    assert validate_grant(Grant(Role.DATA_MANAGER, site.study_id)).role is Role.DATA_MANAGER


async def _user(uow: FakeUnitOfWork, grants: tuple[Grant, ...] = (Grant(Role.ADMIN),)) -> None:
    await users.create_staff_user(
        uow=uow,
        passwords=FakePasswords(),
        screen=FakePasswordScreen(),
        ctx=caller(admin()),
        email=" Ada@Example.org ",
        name="Ada Lovelace",
        password=PASSWORD,
        grants=grants,
    )


async def test_site_grants_get_their_study_filled_in() -> None:
    uow = FakeUnitOfWork()
    site = make_site()
    await uow.sites.add(site)
    await _user(uow, (Grant(Role.COORDINATOR, site_id=site.id),))
    (user,) = [u for u, _ in uow.users.rows.values()]
    assert user.grants == (Grant(Role.COORDINATOR, site.study_id, site.id),)
    assert user.email == "ada@example.org"


async def test_login_issues_a_token_and_logs_it() -> None:
    uow = FakeUnitOfWork()
    await _user(uow)
    issued = await auth.login(
        uow=uow,
        passwords=FakePasswords(),
        tokens=FakeTokens(),
        ctx=caller(),
        email="ADA@example.org",
        password=PASSWORD,
    )
    claims = FakeTokens().verify_access(issued.access_token)
    actor = await auth.resolve_actor(uow=uow, claims=claims)
    assert actor.grants == (Grant(Role.ADMIN),)
    assert uow.events[-1].action == "login_succeeded"


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.org", "wrong password!"), ("nobody@example.org", PASSWORD)],
)
async def test_bad_credentials_look_the_same(email: str, password: str) -> None:
    uow = FakeUnitOfWork()
    await _user(uow)
    with pytest.raises(DomainError) as raised:
        await auth.login(
            uow=uow,
            passwords=FakePasswords(),
            tokens=FakeTokens(),
            ctx=caller(),
            email=email,
            password=password,
        )
    assert raised.value.code is ErrorCode.INVALID_CREDENTIALS
    assert raised.value.message.startswith("The e-mail or password is not correct")


async def test_unknown_subject_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated):
        await auth.resolve_actor(
            uow=FakeUnitOfWork(), claims=TokenClaims(uuid.uuid4(), ActorKind.STAFF, uuid.uuid4())
        )
