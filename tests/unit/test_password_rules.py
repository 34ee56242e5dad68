"""New staff passwords: not common, not guessable, not built from the user's own name or
address; for new accounts and password changes alike (fakes; zxcvbn on its own below)."""

from __future__ import annotations

import secrets
import time

import pytest

from domain.actors import ANONYMOUS, ActorKind, Grant, Role
from domain.errors import DomainError, ErrorCode
from domain.services import auth, users
from domain.users import identity_hints
from infra.auth.password_screen import ZxcvbnScreen
from tests.factories import admin, caller
from tests.fakes import FakePasswords, FakePasswordScreen, FakeTokens, FakeUnitOfWork

GOOD = "correct horse battery"


async def _create(uow: FakeUnitOfWork, password: str, screen: FakePasswordScreen) -> None:
    await users.create_staff_user(
        uow=uow,
        passwords=FakePasswords(),
        screen=screen,
        ctx=caller(admin()),
        email="Ada.Lovelace@example.org",
        name="Ada Lovelace",
        password=password,
        grants=(Grant(Role.ADMIN),),
    )


@pytest.mark.parametrize(
    "password",
    ["password1234", "123456789012", "lovelace-rules-ok", "my ADA.LOVELACE key", "xx-adalovelace"],
)
async def test_weak_and_personal_passwords_are_refused(password: str) -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(DomainError) as raised:
        await _create(uow, password, FakePasswordScreen())
    error = raised.value
    assert (error.code, error.field) == (ErrorCode.WEAK_PASSWORD, "password")
    assert "lovelace" not in error.message.casefold()
    assert password not in error.message
    assert (uow.users.rows, uow.events) == ({}, [])


async def test_the_screen_gets_the_users_own_words() -> None:
    screen = FakePasswordScreen()
    await _create(FakeUnitOfWork(), GOOD, screen)
    assert set(screen.hints) == {"ada.lovelace", "lovelace", "adalovelace"}
    assert identity_hints("li@example.org", "Li Wu") == {"liwu"}  # the short parts alone pass


async def test_a_changed_password_follows_the_same_rules() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    await _create(uow, GOOD, FakePasswordScreen())
    signed_in = await auth.login(
        uow=uow,
        passwords=FakePasswords(),
        tokens=tokens,
        ctx=caller(ANONYMOUS),
        email="ada.lovelace@example.org",
        password=GOOD,
    )
    me = await auth.resolve_actor(uow=uow, claims=tokens.verify_access(signed_in.access_token))
    for weak in ("password1234", "ada.lovelace-2027"):
        with pytest.raises(DomainError) as raised:
            await auth.change_password(
                uow=uow,
                passwords=FakePasswords(),
                screen=FakePasswordScreen(),
                ctx=caller(me),
                current=GOOD,
                new=weak,
            )
        assert raised.value.code is ErrorCode.WEAK_PASSWORD
    # Nothing changed: the session goes on and the old password still signs in.
    still = await auth.resolve_actor(uow=uow, claims=tokens.verify_access(signed_in.access_token))
    assert still.kind is ActorKind.STAFF
    assert [e.action for e in uow.events].count("password_changed") == 0


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "123456789012",
        "qwertyuiopas",
        "Password1234!",
        "iloveyou2024",
        "aaaa1111bbbb",
    ],
)
def test_zxcvbn_refuses_common_and_patterned_passwords(password: str) -> None:
    why = ZxcvbnScreen().weakness(password, [])
    assert why
    assert password not in why


@pytest.mark.parametrize(
    "password", [GOOD, "a long passphrase", "investigator's long password", "Tulip-Orbit-91-Sage"]
)
def test_zxcvbn_accepts_long_uncommon_passphrases(password: str) -> None:
    assert ZxcvbnScreen().weakness(password, ["ada", "lovelace"]) is None


def test_zxcvbn_weighs_the_users_own_words_and_stays_fast_on_long_input() -> None:
    assert ZxcvbnScreen().weakness("zqvormund1987", []) is None
    assert ZxcvbnScreen().weakness("zqvormund1987", ["zqvormund"]) is not None
    started = time.perf_counter()
    assert ZxcvbnScreen().weakness(secrets.token_urlsafe(192)[:256], []) is None
    assert ZxcvbnScreen().weakness("1" * 256, []) is not None
    assert time.perf_counter() - started < 2  # only the first 72 characters are weighed
