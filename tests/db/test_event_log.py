"""The event log on PostgreSQL: same transaction, append-only, per-study logs, no plaintext,
and no lock that writers share."""

from __future__ import annotations

import asyncio
import json
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
from infra.eventlog.chain import EVENT_COLUMNS, GENESIS, link_body
from infra.eventlog.logs import INSTALLATION_LOG
from infra.eventlog.sealing import SealedValue
from tests.conftest import Scratch
from tests.factories import admin, caller, make_study


async def _events(uow: SqlUnitOfWorkFactory, entity_id: uuid.UUID) -> list[dict[str, object]]:
    async with uow() as unit:
        rows = await unit.session.execute(
            text("SELECT * FROM audit_events WHERE entity_id = :id ORDER BY ingest"),
            {"id": entity_id},
        )
        return [dict(r._mapping) for r in rows]


async def test_every_change_writes_an_event_queued_for_its_own_study_log(
    uow: SqlUnitOfWorkFactory,
) -> None:
    actor = admin()
    study = await studies.create_study(
        uow=uow(), ctx=caller(actor, "req-42"), code="ev-1", title="T"
    )
    (event,) = await _events(uow, study.id)
    assert event["log_id"] == study.id  # the study's own log
    assert event["actor_id"] == actor.id
    assert event["actor_role"] == "ADMIN"
    assert event["action"] == "created"
    assert event["origin"]["requestId"] == "req-42"  # type: ignore[index]
    assert {f["field"] for f in event["fields"]} >= {"code", "title"}  # type: ignore[attr-defined]
    assert event["recorded_at"].tzinfo is not None  # type: ignore[attr-defined]
    # The columns are what the hashed body says, and the body is canonical.
    body = json.loads(str(event["body"]))
    assert set(body) == set(EVENT_COLUMNS)
    assert body["log"] == str(study.id)
    assert (
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False) == event["body"]
    )
    async with uow() as unit:
        queued = await unit.session.scalar(
            text("SELECT count(*) FROM audit_pending WHERE ingest = :i"), {"i": event["ingest"]}
        )
    assert queued == 1


async def test_staff_events_go_to_the_installation_log(uow: SqlUnitOfWorkFactory) -> None:
    user = await users.create_staff_user(
        uow=uow(),
        passwords=Argon2Passwords(time_cost=1, memory_kib=64),
        screen=ZxcvbnScreen(),
        ctx=caller(admin()),
        email=f"i.{uuid.uuid4().hex[:6]}@example.org",
        name="Ida",
        password="a long passphrase",
        grants=(Grant(Role.ADMIN),),
    )
    (event,) = await _events(uow, user.id)
    assert event["log_id"] == INSTALLATION_LOG


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


REWRITES = [
    "UPDATE audit_events SET body = '{}'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events CASCADE",
    "UPDATE audit_chain SET hash = prev_hash",
    "DELETE FROM audit_chain",
    "TRUNCATE audit_chain",
]


@pytest.mark.parametrize("statement", REWRITES)
async def test_app_role_cannot_rewrite_history(app_engine: AsyncEngine, statement: str) -> None:
    async with app_engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(statement))
        assert "permission denied" in str(raised.value.orig).lower()


@pytest.mark.parametrize("statement", REWRITES)
async def test_even_the_owner_is_stopped_by_the_trigger(
    owner_engine: AsyncEngine, statement: str
) -> None:
    async with owner_engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(statement))
        assert "append-only" in str(raised.value.orig)
        await connection.rollback()


async def test_no_column_can_say_other_than_the_hashed_body(owner_engine: AsyncEngine) -> None:
    async with owner_engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text("UPDATE audit_events SET action = 'x'"))
        assert "can only be updated to DEFAULT" in str(raised.value.orig)
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
    assert event["personal"] is True
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


async def test_writers_never_wait_for_each_other(committing_uow: SqlUnitOfWorkFactory) -> None:
    """A write whose transaction is still open holds no lock another write needs: before,
    every append took one installation-wide lock until commit."""
    study = await studies.create_study(
        uow=committing_uow(), ctx=caller(admin()), code=make_study().code, title="Busy"
    )
    unit = committing_uow()
    async with unit:
        change = audit.Change(
            entity_type="Study",
            entity_id=study.id,
            action="touched",
            fields=(audit.FieldChange("title", "Busy", "Busier"),),
            actor=admin(),
            role=Role.ADMIN,
            origin=caller().origin,
            subject=audit.Subject(study_id=study.id),
        )
        await writer.EventLogWriter().append(unit.session, [change], unit.clock, unit.cipher)
        # Still uncommitted: the same study's log, written again from elsewhere.
        other = studies.create_site(
            uow=committing_uow(),
            ctx=caller(admin()),
            study_id=study.id,
            code="FREE",
            name="Free",
            country="DE",
            timezone="Europe/Berlin",
        )
        await asyncio.wait_for(other, timeout=10)
        await unit.rollback()


async def test_concurrent_writers_to_one_study_make_one_unbroken_chain(scratch: Scratch) -> None:
    uow = scratch.runtime.services.uow
    study = await studies.create_study(uow=uow(), ctx=caller(admin()), code="ONE", title="C")
    await asyncio.gather(
        *(
            studies.create_site(
                uow=uow(),
                ctx=caller(admin()),
                study_id=study.id,
                code=f"S{n}",
                name="Site",
                country="DE",
                timezone="Europe/Berlin",
            )
            for n in range(30)
        )
    )
    done = await scratch.runtime.log.integrate()
    assert done.sequenced == 31
    async with scratch.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT c.seq, c.prev_hash, c.hash, e.body FROM audit_chain c "
                    "JOIN audit_events e ON e.ingest = c.ingest WHERE c.log_id = :log "
                    "ORDER BY c.seq"
                ),
                {"log": study.id},
            )
        ).all()
        queued = await connection.scalar(text("SELECT count(*) FROM audit_pending"))
    assert queued == 0
    prev = GENESIS
    for expected, row in enumerate(rows, start=1):
        assert row.seq == expected
        assert row.prev_hash == prev
        assert row.hash == link_body(prev, row.body.encode())
        prev = row.hash
    assert len(rows) == 31
