"""The event log on PostgreSQL: same transaction, append-only, chained, no plaintext."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain import audit
from domain.actors import Grant, Role
from domain.services import studies, users
from infra.auth.password_screen import ZxcvbnScreen
from infra.auth.passwords import Argon2Passwords
from infra.db.uow import SqlUnitOfWorkFactory
from infra.eventlog import writer
from infra.eventlog.chain import GENESIS, link, record_of
from infra.eventlog.sealing import SealedValue
from tests.factories import admin, caller, make_study


async def _events(uow: SqlUnitOfWorkFactory, entity_id: uuid.UUID) -> list[dict[str, object]]:
    async with uow() as unit:
        rows = await unit.session.execute(
            text("SELECT * FROM audit_events WHERE entity_id = :id ORDER BY seq"), {"id": entity_id}
        )
        return [dict(r._mapping) for r in rows]


async def test_every_change_appends_a_chained_event(uow: SqlUnitOfWorkFactory) -> None:
    actor = admin()
    study = await studies.create_study(
        uow=uow(), ctx=caller(actor, "req-42"), code="ev-1", title="T"
    )
    (event,) = await _events(uow, study.id)
    assert event["actor_id"] == actor.id
    assert event["actor_role"] == "ADMIN"
    assert event["action"] == "created"
    assert event["origin"]["requestId"] == "req-42"  # type: ignore[index]
    assert {f["field"] for f in event["fields"]} >= {"code", "title"}  # type: ignore[attr-defined]
    assert event["recorded_at"].tzinfo is not None  # type: ignore[attr-defined]
    prev = event["prev_hash"]
    assert isinstance(prev, bytes)
    assert event["hash"] == link(prev, record_of(event))


async def test_event_insert_failure_rolls_the_change_back(
    uow: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requirement 1: make the event insert fail, and the change must not survive."""

    original = writer.EventLogWriter._body

    def broken_body(
        self: writer.EventLogWriter, change: audit.Change, pending: list[SealedValue]
    ) -> dict[str, object]:
        body = original(self, change, pending)
        return body | {"entity_type": "x" * 100}  # too long for the column: the INSERT fails

    monkeypatch.setattr(writer.EventLogWriter, "_body", broken_body)
    code = make_study().code
    with pytest.raises(DBAPIError):
        await studies.create_study(uow=uow(), ctx=caller(admin()), code=code, title="T")
    monkeypatch.undo()
    async with uow() as unit:
        found = await unit.session.execute(
            text("SELECT 1 FROM studies WHERE code = :c"), {"c": code}
        )
        assert found.first() is None


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"],
)
async def test_app_role_cannot_rewrite_history(app_engine: AsyncEngine, statement: str) -> None:
    async with app_engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(statement))
        assert "permission denied" in str(raised.value.orig).lower()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"],
)
async def test_even_the_owner_is_stopped_by_the_trigger(
    owner_engine: AsyncEngine, statement: str
) -> None:
    async with owner_engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(statement))
        assert "append-only" in str(raised.value.orig)
        await connection.rollback()


async def test_personal_values_are_sealed_not_logged(uow: SqlUnitOfWorkFactory) -> None:
    email = f"grace.{uuid.uuid4().hex[:6]}@example.org"
    user = await users.create_staff_user(
        uow=uow(),
        passwords=Argon2Passwords(time_cost=1, memory_kib=64),
        screen=ZxcvbnScreen(),
        ctx=caller(admin()),
        email=email,
        name="Grace Hopper",
        password="a long passphrase",
        grants=(Grant(Role.ADMIN),),
    )
    (event,) = await _events(uow, user.id)
    fields = {f["field"]: f for f in event["fields"]}  # type: ignore[attr-defined]
    assert fields["email"]["personal"] is True
    assert fields["email"]["new"].startswith("sha256:")
    async with uow() as unit:
        dump = await unit.session.execute(
            text(
                "SELECT row_to_json(e)::text FROM audit_events e UNION ALL "
                "SELECT row_to_json(s)::text FROM audit_sealed_values s UNION ALL "
                "SELECT row_to_json(u)::text FROM staff_users u"
            )
        )
        text_dump = " ".join(r[0] for r in dump)
    assert email not in text_dump
    assert "Grace Hopper" not in text_dump


async def test_concurrent_writers_keep_one_unbroken_chain(
    committing_uow: SqlUnitOfWorkFactory,
) -> None:
    codes = [make_study().code for _ in range(50)]
    await asyncio.gather(
        *(
            studies.create_study(uow=committing_uow(), ctx=caller(admin()), code=c, title="C")
            for c in codes
        )
    )
    async with committing_uow() as unit:
        rows = [
            dict(r._mapping)
            for r in await unit.session.execute(text("SELECT * FROM audit_events ORDER BY seq"))
        ]
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        assert row["seq"] == expected_seq
        assert row["prev_hash"] == prev
        assert row["hash"] == link(prev, record_of(row))
        prev = row["hash"]
