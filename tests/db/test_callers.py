"""The caller behind a session, read in one statement: only a live session of that subject
answers, with the grants as stored now."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from domain.actors import ActorKind, Grant, Role
from domain.sessions import Caller, RevokeReason, Session
from domain.users import StaffUser, UserStatus
from infra.db.uow import SqlUnitOfWorkFactory
from tests.clock import CLOCK


async def test_a_live_session_answers_with_the_grants_stored_now(
    uow: SqlUnitOfWorkFactory,
) -> None:
    now = CLOCK.now()
    grants = (Grant(Role.MONITOR), Grant(Role.ADMIN))
    user = StaffUser.new(
        email=f"c-{uuid.uuid4().hex[:8]}@example.org", name="C", grants=grants, now=now
    )
    session = Session(uuid.uuid4(), user.id, ActorKind.STAFF, None, now, now + timedelta(days=1))
    async with uow() as work:
        await work.users.add(user, "not a real hash")
        await work.sessions.add(session)
        found = await work.sessions.caller(session.id, user.id, now)
        assert found is not None
        assert found.kind is ActorKind.STAFF
        assert sorted(g.role for g in found.grants or ()) == [Role.ADMIN, Role.MONITOR]
        # Someone else's session id, or an expired session, answers nothing.
        assert await work.sessions.caller(session.id, uuid.uuid4(), now) is None
        assert await work.sessions.caller(session.id, user.id, now + timedelta(days=2)) is None
        # No grants left: still the caller, with none.
        await work.users.update(dataclasses.replace(user, grants=(), version=user.version + 1))
        assert await work.sessions.caller(session.id, user.id, now) == Caller(
            ActorKind.STAFF, grants=()
        )
        # Disabled: a caller without grants at all (refused), then revoked: nobody.
        await work.users.update(
            dataclasses.replace(user, status=UserStatus.DISABLED, version=user.version + 2)
        )
        assert await work.sessions.caller(session.id, user.id, now) == Caller(ActorKind.STAFF)
        await work.sessions.revoke(session.id, RevokeReason.LOGOUT, now)
        assert await work.sessions.caller(session.id, user.id, now) is None
