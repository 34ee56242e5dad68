"""Sessions, lockout, refresh rotation, reuse detection and enrolment, on in-memory fakes."""

from __future__ import annotations

import pytest

from domain.actors import ANONYMOUS, ActorKind, Grant, Role
from domain.enrolment import Platform, normalise_code
from domain.errors import DomainError, ErrorCode, Unauthenticated
from domain.ids import UserId
from domain.participants import Participant, ParticipantStatus
from domain.services import auth, enrolment, participants, users
from domain.sessions import SignIn
from domain.studies import Site
from domain.users import MAX_FAILED_LOGINS, UserStatus
from tests.factories import admin, at_site, caller, make_participant, make_site
from tests.fakes import FakePasswords, FakePasswordScreen, FakeTokens, FakeUnitOfWork

PASSWORD = "correct horse battery"


async def _staff(uow: FakeUnitOfWork, email: str = "ada@example.org") -> UserId:
    user = await users.create_staff_user(
        uow=uow,
        passwords=FakePasswords(),
        screen=FakePasswordScreen(),
        ctx=caller(admin()),
        email=email,
        name="Ada",
        password=PASSWORD,
        grants=(Grant(Role.ADMIN),),
    )
    return user.id


async def _login(uow: FakeUnitOfWork, tokens: FakeTokens, password: str = PASSWORD) -> SignIn:
    return await auth.login(
        uow=uow,
        passwords=FakePasswords(),
        tokens=tokens,
        ctx=caller(ANONYMOUS),
        email="ada@example.org",
        password=password,
    )


async def test_five_failures_lock_the_account_even_for_the_right_password() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    await _staff(uow)
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(DomainError):
            await _login(uow, tokens, "wrong password!!")
    with pytest.raises(DomainError) as raised:
        await _login(uow, tokens)
    assert raised.value.code is ErrorCode.INVALID_CREDENTIALS  # same answer: nothing revealed
    actions = [e.action for e in uow.events]
    assert actions.count("login_failed") == MAX_FAILED_LOGINS
    assert "locked" in actions
    assert actions[-1] == "login_refused_locked"
    uow.clock.advance(minutes=16)
    assert (await _login(uow, tokens)).access_token


async def test_unknown_accounts_are_logged_under_a_pseudonym() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(DomainError):
        await auth.login(
            uow=uow,
            passwords=FakePasswords(),
            tokens=FakeTokens(),
            ctx=caller(ANONYMOUS),
            email="nobody@example.org",
            password=PASSWORD,
        )
    event = uow.events[-1]
    assert (event.entity_type, event.action, event.role) == (
        "UnknownAccount",
        "login_failed",
        Role.ANONYMOUS,
    )
    assert "nobody" not in str(event)


async def test_refresh_rotates_and_reuse_revokes_the_whole_session() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    await _staff(uow)
    first = await _login(uow, tokens)
    second = await auth.refresh(
        uow=uow, tokens=tokens, ctx=caller(ANONYMOUS), refresh_token=first.refresh_token
    )
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    with pytest.raises(DomainError) as raised:  # the old token again: someone copied it
        await auth.refresh(
            uow=uow, tokens=tokens, ctx=caller(ANONYMOUS), refresh_token=first.refresh_token
        )
    assert raised.value.code is ErrorCode.INVALID_REFRESH_TOKEN
    assert uow.events[-1].action == "refresh_token_reused"
    with pytest.raises(DomainError):  # ...and the newest token of that family is dead too
        await auth.refresh(
            uow=uow, tokens=tokens, ctx=caller(ANONYMOUS), refresh_token=second.refresh_token
        )
    with pytest.raises(Unauthenticated):  # as are its access tokens
        await auth.resolve_actor(uow=uow, claims=tokens.verify_access(second.access_token))


async def test_logout_and_disabling_end_sessions_at_once() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    user_id = await _staff(uow)
    signed_in = await _login(uow, tokens)
    actor = await auth.resolve_actor(uow=uow, claims=tokens.verify_access(signed_in.access_token))
    await auth.logout(uow=uow, ctx=caller(actor))
    with pytest.raises(Unauthenticated):
        await auth.resolve_actor(uow=uow, claims=tokens.verify_access(signed_in.access_token))
    again = await _login(uow, tokens)
    await users.set_status(
        uow=uow, ctx=caller(admin()), user_id=user_id, status=UserStatus.DISABLED, reason="left"
    )
    with pytest.raises(Unauthenticated):
        await auth.resolve_actor(uow=uow, claims=tokens.verify_access(again.access_token))
    with pytest.raises(DomainError):
        await _login(uow, tokens)


async def test_grants_change_with_the_next_request() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    site = make_site()
    await uow.sites.add(site)
    user_id = await _staff(uow)
    signed_in = await _login(uow, tokens)
    claims = tokens.verify_access(signed_in.access_token)
    await users.set_grants(
        uow=uow,
        ctx=caller(admin()),
        user_id=user_id,
        add=(Grant(Role.MONITOR, site_id=site.id),),
        remove=(Grant(Role.ADMIN),),
    )
    actor = await auth.resolve_actor(uow=uow, claims=claims)
    assert actor.grants == (Grant(Role.MONITOR, site.study_id, site.id),)
    assert [f.field for f in uow.events[-1].fields] == ["grants"]


async def _enrollable(uow: FakeUnitOfWork) -> tuple[Site, Participant]:
    site = make_site()
    participant = make_participant(site)
    await uow.participants.try_add(participant)
    return site, participant


async def _enrol(uow: FakeUnitOfWork, tokens: FakeTokens, code: str) -> SignIn:
    return await enrolment.enrol(
        uow=uow,
        tokens=tokens,
        ctx=caller(ANONYMOUS),
        code=code,
        platform=Platform.ANDROID,
        model="Pixel 9",
        os_version="16",
        app_version="2.4.1",
    )


async def test_enrolment_codes_are_single_use_and_bind_the_session_to_the_phone() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    site, participant = await _enrollable(uow)
    coordinator = caller(at_site(Role.COORDINATOR, site))
    issued = await enrolment.issue_code(
        uow=uow, tokens=tokens, ctx=coordinator, participant_id=participant.id
    )
    assert len(normalise_code(issued.code)) == 20
    assert issued.deep_link == f"hearth://enrol?code={issued.code}"
    session = await _enrol(uow, tokens, issued.code.lower().replace("-", " "))
    assert session.installation_id is not None
    actor = await auth.resolve_actor(uow=uow, claims=tokens.verify_access(session.access_token))
    assert (actor.kind, actor.id) == (ActorKind.PARTICIPANT, participant.id)
    with pytest.raises(DomainError) as raised:
        await _enrol(uow, tokens, issued.code)
    assert raised.value.code is ErrorCode.ENROLMENT_CODE_USED
    with pytest.raises(DomainError):  # refresh needs the paired installation
        await auth.refresh(
            uow=uow, tokens=tokens, ctx=caller(ANONYMOUS), refresh_token=session.refresh_token
        )
    renewed = await auth.refresh(
        uow=uow,
        tokens=tokens,
        ctx=caller(ANONYMOUS),
        refresh_token=session.refresh_token,
        installation_id=session.installation_id,
    )
    # A new phone: the old one's sessions end.
    second = await enrolment.issue_code(
        uow=uow, tokens=tokens, ctx=coordinator, participant_id=participant.id
    )
    new_phone = await _enrol(uow, tokens, second.code)
    with pytest.raises(Unauthenticated):
        await auth.resolve_actor(uow=uow, claims=tokens.verify_access(renewed.access_token))
    assert await auth.resolve_actor(uow=uow, claims=tokens.verify_access(new_phone.access_token))


async def test_expired_unknown_and_superseded_codes_are_refused() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    site, participant = await _enrollable(uow)
    ctx = caller(at_site(Role.COORDINATOR, site))
    old = await enrolment.issue_code(uow=uow, tokens=tokens, ctx=ctx, participant_id=participant.id)
    new = await enrolment.issue_code(uow=uow, tokens=tokens, ctx=ctx, participant_id=participant.id)
    with pytest.raises(DomainError) as raised:
        await _enrol(uow, tokens, old.code)
    assert raised.value.code is ErrorCode.ENROLMENT_CODE_USED
    uow.clock.advance(hours=25)
    with pytest.raises(DomainError) as raised:
        await _enrol(uow, tokens, new.code)
    assert raised.value.code is ErrorCode.ENROLMENT_CODE_EXPIRED
    with pytest.raises(DomainError) as raised:
        await _enrol(uow, tokens, "ABCDE-FGHJK-MNPQR-STVWX")
    assert raised.value.code is ErrorCode.ENROLMENT_CODE_INVALID
    with pytest.raises(DomainError) as raised:
        await _enrol(uow, tokens, "short")
    assert raised.value.field == "code"


async def test_withdrawn_participants_cannot_enrol_and_monitors_cannot_issue() -> None:
    uow, tokens = FakeUnitOfWork(), FakeTokens()
    site, participant = await _enrollable(uow)
    with pytest.raises(DomainError) as raised:
        await enrolment.issue_code(
            uow=uow,
            tokens=tokens,
            ctx=caller(at_site(Role.MONITOR, site)),
            participant_id=participant.id,
        )
    assert raised.value.code is ErrorCode.FORBIDDEN
    await participants.change_status(
        uow=uow,
        ctx=caller(admin()),
        participant_id=participant.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="withdrew consent",
    )
    with pytest.raises(DomainError) as raised:
        await enrolment.issue_code(
            uow=uow, tokens=tokens, ctx=caller(admin()), participant_id=participant.id
        )
    assert raised.value.code is ErrorCode.PARTICIPANT_WITHDRAWN
