"""Refresh retries after a lost answer, and what a refused refresh tells each kind of caller."""

from __future__ import annotations

import uuid

import pytest

from domain.actors import ANONYMOUS, ActorKind, Grant, Role
from domain.errors import DomainError, ErrorCode
from domain.services import auth, users
from domain.sessions import REFRESH_RETRY_GRACE, SignIn
from tests.factories import admin, caller, make_participant
from tests.fakes import FakePasswords, FakePasswordScreen, FakeTokens, FakeUnitOfWork

PHONE = uuid.uuid4()


async def _app(uow: FakeUnitOfWork, tokens: FakeTokens) -> SignIn:
    person = make_participant()
    await uow.participants.try_add(person)
    async with uow:
        signed_in = await auth.open_session(
            uow, tokens, subject=person.id, kind=ActorKind.PARTICIPANT, installation_id=PHONE
        )
        await uow.commit()
    return signed_in


async def _refresh(
    uow: FakeUnitOfWork, tokens: FakeTokens, token: str, installation: uuid.UUID | None = PHONE
) -> SignIn:
    return await auth.refresh(
        uow=uow,
        tokens=tokens,
        ctx=caller(ANONYMOUS),
        refresh_token=token,
        installation_id=installation,
    )


async def _refused(
    uow: FakeUnitOfWork, tokens: FakeTokens, token: str, installation: uuid.UUID | None = PHONE
) -> DomainError:
    with pytest.raises(DomainError) as raised:
        await _refresh(uow, tokens, token, installation)
    assert raised.value.code is ErrorCode.INVALID_REFRESH_TOKEN
    return raised.value


def _alive(uow: FakeUnitOfWork, signed_in: SignIn) -> bool:
    return uow.sessions.rows[signed_in.session_id].revoked_at is None


async def test_a_retry_after_a_lost_answer_gets_the_same_pair() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    enrolled = await _app(uow, tokens)
    lost = await _refresh(uow, tokens, enrolled.refresh_token)  # the answer never arrives
    uow.clock.advance(seconds=40)
    again = await _refresh(uow, tokens, enrolled.refresh_token)
    assert again == lost
    assert uow.events[-1].action == "refresh_retried"
    assert _alive(uow, enrolled)
    following = await _refresh(uow, tokens, again.refresh_token)  # the app carries on
    assert following.refresh_token != again.refresh_token
    await _refused(uow, tokens, enrolled.refresh_token)  # its successor was used: a copy
    assert uow.events[-1].action == "refresh_token_reused"
    assert not _alive(uow, enrolled)


@pytest.mark.parametrize(
    ("late", "installation"),
    [(False, None), (False, uuid.uuid4()), (True, PHONE)],
    ids=["no installation", "another installation", "after the grace"],
)
async def test_other_second_uses_are_reuse(late: bool, installation: uuid.UUID | None) -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    enrolled = await _app(uow, tokens)
    await _refresh(uow, tokens, enrolled.refresh_token)
    if late:
        uow.clock.advance(REFRESH_RETRY_GRACE)
        uow.clock.advance(seconds=1)
    await _refused(uow, tokens, enrolled.refresh_token, installation)
    assert uow.events[-1].action == "refresh_token_reused"
    assert not _alive(uow, enrolled)


async def _staff_session(uow: FakeUnitOfWork, tokens: FakeTokens) -> SignIn:
    await users.create_staff_user(
        uow=uow,
        passwords=FakePasswords(),
        screen=FakePasswordScreen(),
        ctx=caller(admin()),
        email="ada@example.org",
        name="Ada",
        password="correct horse battery",
        grants=(Grant(Role.ADMIN),),
    )
    return await auth.login(
        uow=uow,
        passwords=FakePasswords(),
        tokens=tokens,
        ctx=caller(ANONYMOUS),
        email="ada@example.org",
        password="correct horse battery",
    )


async def test_staff_sessions_keep_strict_reuse_detection() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    signed_in = await _staff_session(uow, tokens)
    await _refresh(uow, tokens, signed_in.refresh_token, None)
    refused = await _refused(uow, tokens, signed_in.refresh_token, None)
    assert refused.message == "This session has ended; sign in again."
    assert not _alive(uow, signed_in)


async def test_a_participant_is_told_to_ask_the_site_for_a_new_code() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    enrolled = await _app(uow, tokens)
    await _refresh(uow, tokens, enrolled.refresh_token)
    uow.clock.advance(REFRESH_RETRY_GRACE * 2)
    reused = await _refused(uow, tokens, enrolled.refresh_token)
    unknown = await _refused(uow, tokens, "never issued")  # judged by the installation sent
    for refusal in (reused, unknown):
        assert "new enrolment code" in refusal.message
        assert "sign in" not in refusal.message
    staff_unknown = await _refused(uow, tokens, "never issued", None)
    assert "sign in again" in staff_unknown.message
