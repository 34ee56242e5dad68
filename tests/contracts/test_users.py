"""Contracts of the staff-user and session repositories, fake and SQL alike."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest

from domain.actors import ActorKind, Grant, Role
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.sessions import RevokeReason, Session
from domain.users import StaffUser, UserStatus
from tests.contracts.conftest import UnitsOfWork
from tests.factories import NOW


def _user(email: str | None = None, *grants: Grant) -> StaffUser:
    return StaffUser.new(
        email=email or f"u-{uuid.uuid4().hex[:8]}@example.org",
        name="Staff Member",
        grants=grants or (Grant(Role.ADMIN, None, None),),
        now=NOW,
    )


async def _added(units: UnitsOfWork, user: StaffUser, password_hash: str = "h1") -> None:
    async with units() as uow:
        await uow.users.add(user, password_hash)
        await uow.commit()


async def _updated(units: UnitsOfWork, user: StaffUser) -> None:
    async with units() as uow:
        await uow.users.update(user)
        await uow.commit()


async def test_a_user_is_found_by_id_and_by_normalised_email(units: UnitsOfWork) -> None:
    user = _user("Ada.Lovelace@Example.ORG")
    await _added(units, user)
    async with units() as uow:
        assert await uow.users.get(user.id) == user
        found = await uow.users.find_credentials("ada.lovelace@example.org")
        assert found == (user, "h1")
        assert await uow.users.find_credentials("nobody@example.org") is None


async def test_two_users_cannot_share_an_email(units: UnitsOfWork) -> None:
    first = _user()
    await _added(units, first)
    with pytest.raises(AlreadyExists):
        await _added(units, _user(first.email), "h2")


async def test_failed_sign_ins_lock_at_the_threshold_and_clear(units: UnitsOfWork) -> None:
    user = _user()
    await _added(units, user)
    lock_for = timedelta(minutes=15)
    async with units() as uow:
        for _ in range(2):
            assert (
                await uow.users.record_failure(user.id, NOW, threshold=3, lock_for=lock_for) is None
            )
        locked = await uow.users.record_failure(user.id, NOW, threshold=3, lock_for=lock_for)
        await uow.commit()
    assert locked == NOW + lock_for
    async with units() as uow:
        stored = await uow.users.get(user.id)
        assert stored is not None
        assert stored.locked_until == NOW + lock_for
        await uow.users.clear_failures(user.id)
        await uow.commit()
    async with units() as uow:
        cleared = await uow.users.get(user.id)
        assert cleared is not None
        assert (cleared.failed_logins, cleared.locked_until) == (0, None)


async def test_an_update_from_a_stale_version_is_refused(units: UnitsOfWork) -> None:
    user = _user()
    await _added(units, user)
    disabled = dataclasses.replace(user, status=UserStatus.DISABLED, version=2)
    await _updated(units, disabled)
    with pytest.raises(DomainError) as raised:
        await _updated(units, disabled)  # version 2 again: someone else's write was first
    assert raised.value.code is ErrorCode.STALE_VERSION
    async with units() as uow:
        assert await uow.users.active_grants(disabled.id) is None  # disabled: no grants
        assert await uow.users.active_grants(_user().id) is None  # unknown


async def test_grants_of_an_active_user(units: UnitsOfWork) -> None:
    grant = Grant(Role.MONITOR, None, None)
    user = _user(None, grant)
    await _added(units, user)
    async with units() as uow:
        assert await uow.users.active_grants(user.id) == (grant,)
        assert await uow.users.any_with_role(Role.MONITOR)


def _session(subject: uuid.UUID, kind: ActorKind = ActorKind.STAFF) -> Session:
    return Session(
        id=uuid.uuid4(),
        subject_id=subject,
        subject_kind=kind,
        installation_id=None,
        created_at=NOW,
        expires_at=NOW + timedelta(hours=8),
    )


async def test_a_session_is_active_until_revoked_or_expired(units: UnitsOfWork) -> None:
    user = _user()
    await _added(units, user)
    session = _session(user.id)
    async with units() as uow:
        await uow.sessions.add(session)
        await uow.commit()
    async with units() as uow:
        assert await uow.sessions.active(session.id, user.id, NOW)
        assert not await uow.sessions.active(session.id, uuid.uuid4(), NOW)  # someone else's
        assert not await uow.sessions.active(session.id, user.id, session.expires_at)
        await uow.sessions.revoke(session.id, RevokeReason.LOGOUT, NOW)
        await uow.commit()
    async with units() as uow:
        assert not await uow.sessions.active(session.id, user.id, NOW)


async def test_a_refresh_token_is_used_once(units: UnitsOfWork) -> None:
    user = _user()
    await _added(units, user)
    session = _session(user.id)
    token = uuid.uuid4()
    async with units() as uow:
        await uow.sessions.add(session)
        await uow.sessions.add_refresh(
            session.id, b"d" * 32, NOW + timedelta(hours=1), token_id=token, issued_at=NOW
        )
        await uow.commit()
    async with units() as uow:
        record = await uow.sessions.find_refresh(b"d" * 32)
        assert record is not None
        assert record.session.id == session.id
        assert await uow.sessions.find_refresh(b"x" * 32) is None
        assert await uow.sessions.use_refresh(token, NOW)
        assert not await uow.sessions.use_refresh(token, NOW)
        await uow.commit()


async def test_revoking_a_subject_ends_every_live_session(units: UnitsOfWork) -> None:
    user, other = _user(), _user()
    await _added(units, user)
    await _added(units, other)
    async with units() as uow:
        for subject in (user.id, user.id, other.id):
            await uow.sessions.add(_session(subject))
        await uow.commit()
    async with units() as uow:
        assert await uow.sessions.revoke_subject(user.id, RevokeReason.LOGOUT, NOW) == 2
        assert await uow.sessions.revoke_subject(user.id, RevokeReason.LOGOUT, NOW) == 0
        await uow.commit()


async def test_sessions_and_users_left_without_commit_are_gone(units: UnitsOfWork) -> None:
    user = _user()
    session = _session(user.id)
    async with units() as uow:
        await uow.users.add(user, "h1")
        await uow.sessions.add(session)
        # no commit
    async with units() as uow:
        assert await uow.users.get(user.id) is None
        assert not await uow.sessions.active(session.id, user.id, NOW)
