"""Regressions: races between erasure and other writes, and what verification must refuse.

Each test failed before its fix; the races are reproduced with real concurrent transactions.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from domain.contacts import ContactField
from domain.errors import DomainError, ErrorCode
from domain.participants import ParticipantStatus
from domain.services import contacts, keys, participants
from domain.trail import TrailQuery
from tests.conftest import Scratch
from tests.factories import admin, caller
from tests.world import PEOPLE, build_world


async def _held(scratch: Scratch, *statements: str) -> tuple[AsyncConnection, AsyncTransaction]:
    """Run statements in a transaction that stays open (holding its locks) until released."""
    connection = await scratch.runtime.engine.connect()
    transaction = await connection.begin()
    for statement in statements:
        await connection.execute(text(statement))
    return connection, transaction


async def _blocked_behind(
    scratch: Scratch, holder: AsyncConnection, task: asyncio.Task[Any]
) -> None:
    """Return once another backend waits for a lock the holder's transaction has taken.

    PostgreSQL itself says who blocks whom (`pg_blocking_pids`), so the test moves on exactly
    when the racing write is queued behind the held lock, never on a guess about timing.
    """
    pid = (await holder.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    async with scratch.runtime.engine.connect() as probe:
        async with asyncio.timeout(30):
            while True:
                assert not task.done(), "the racing write finished without waiting for the lock"
                waiting = (
                    await probe.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE :pid = ANY(pg_blocking_pids(pid))"
                        ),
                        {"pid": pid},
                    )
                ).scalar_one()
                if waiting:
                    return
                await asyncio.sleep(0.01)


async def test_rotation_never_undoes_an_erasure_running_at_the_same_time(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    erased = world.people[0].id
    connection, transaction = await _held(
        scratch,
        f"UPDATE data_keys SET wrapped = NULL, destroyed_at = now() WHERE owner_id = '{erased}' AND wrapped IS NOT NULL",
    )
    rotation = asyncio.create_task(
        keys.rotate_keys(uow=scratch.runtime.services.uow(), ctx=caller())
    )
    await _blocked_behind(scratch, connection, rotation)  # waits for the erasure's row lock
    await transaction.commit()
    await connection.close()
    done = await rotation
    assert done.rewrapped == 1  # only the other participant's key
    async with scratch.runtime.engine.connect() as check:
        wrapped = (
            await check.execute(text(f"SELECT wrapped FROM data_keys WHERE owner_id = '{erased}'"))
        ).scalar_one()
    assert wrapped is None


async def test_contact_edits_wait_for_an_erasure_and_then_refuse(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    erased = world.people[0].id
    connection, transaction = await _held(
        scratch,
        f"SELECT id FROM participants WHERE id = '{erased}' FOR UPDATE",
        f"UPDATE participants SET erased_at = now(), version = version + 1 WHERE id = '{erased}'",
        f"UPDATE data_keys SET wrapped = NULL, destroyed_at = now() WHERE owner_id = '{erased}'",
        f"DELETE FROM participant_contacts WHERE participant_id = '{erased}'",
    )
    edit = asyncio.create_task(
        contacts.set_contact(
            uow=scratch.runtime.services.uow(),
            ctx=caller(world.coordinator),
            participant_id=erased,
            full_name="New Name",
            email=PEOPLE[0]["email"],
            phone=None,
            date_of_birth=None,
            address=None,
        )
    )
    await _blocked_behind(scratch, connection, edit)
    await transaction.commit()
    await connection.close()
    with pytest.raises(DomainError) as raised:
        await edit
    assert raised.value.code is ErrorCode.PARTICIPANT_ERASED
    found = await contacts.find_by_contact(
        uow=scratch.runtime.services.uow(),
        ctx=caller(world.coordinator),
        study_id=world.study.id,
        email=PEOPLE[0]["email"],
        phone=None,
    )
    assert found == []


async def test_an_erased_participant_can_still_be_withdrawn_with_a_sealed_reason(
    scratch: Scratch,
) -> None:
    world = await build_world(scratch.runtime.services.uow)
    uow, gone = scratch.runtime.services.uow, world.people[0]
    await contacts.erase_participant(
        uow=uow(), ctx=caller(admin()), participant_id=gone.id, legal_basis="GDPR Art. 17"
    )
    withdrawn = await participants.change_status(
        uow=uow(),
        ctx=caller(world.coordinator),
        participant_id=gone.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Asked to leave by phone",
    )
    assert withdrawn.status is ParticipantStatus.WITHDRAWN
    from domain.pagination import PageRequest
    from domain.services import trail

    page = await trail.audit_trail(
        uow=uow(),
        ctx=caller(world.coordinator),
        query=TrailQuery(participant_id=gone.id, field="status"),
        request=PageRequest(),
    )
    assert page.items[-1].reason.value == "Asked to leave by phone"  # type: ignore[union-attr]
    report = await scratch.runtime.verify_audit()
    assert report.ok, report.problem
    assert report.erased > 0


async def test_an_unchanged_contact_is_not_stored_or_logged_again(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    uow, person = scratch.runtime.services.uow, world.people[1]
    async with scratch.runtime.engine.connect() as connection:
        before = (await connection.execute(text("SELECT count(*) FROM audit_events"))).scalar_one()
    again = await contacts.set_contact(
        uow=uow(), ctx=caller(world.coordinator), participant_id=person.id, **PEOPLE[1]
    )
    assert again == world.contacts[1]
    async with scratch.runtime.engine.connect() as connection:
        after = (await connection.execute(text("SELECT count(*) FROM audit_events"))).scalar_one()
    assert after == before


async def _problem(scratch: Scratch) -> str:
    report = await scratch.runtime.verify_audit()
    assert report.problem is not None, "went unnoticed"
    return report.problem.reason


async def test_verify_refuses_a_key_destroyed_without_a_logged_erasure(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    async with scratch.runtime.engine.begin() as connection:  # as the application role
        await connection.execute(
            text(f"UPDATE data_keys SET wrapped = NULL WHERE owner_id = '{world.people[0].id}'")
        )
    assert "without a logged erasure" in await _problem(scratch)


async def test_verify_refuses_a_sealed_value_moved_to_another_subject(scratch: Scratch) -> None:
    await build_world(scratch.runtime.services.uow)
    async with scratch.runtime.engine.begin() as connection:
        await connection.execute(
            text(
                f"UPDATE audit_sealed_values SET owner_id = '{uuid.uuid4()}' WHERE ctid = (SELECT ctid FROM audit_sealed_values LIMIT 1)"
            )
        )
    assert "another data subject" in await _problem(scratch)


async def test_a_redaction_excuses_only_the_values_it_cleared(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    person = world.people[0]
    await contacts.redact_contact(
        uow=scratch.runtime.services.uow(),
        ctx=caller(world.coordinator),
        participant_id=person.id,
        field=ContactField.ADDRESS,
        reason="Wrong person's address",
        replacement="Elsewhere 1",
    )
    assert (await scratch.runtime.verify_audit()).ok
    async with scratch.runtime.engine.begin() as connection:  # clear another logged address copy
        await connection.execute(
            text(
                "UPDATE audit_sealed_values SET sealed = NULL WHERE field = 'address' AND sealed IS NOT NULL "
                f"AND owner_id = '{person.id}' AND ctid = (SELECT ctid FROM audit_sealed_values "
                f"WHERE field = 'address' AND sealed IS NOT NULL AND owner_id = '{person.id}' LIMIT 1)"
            )
        )
    assert "without a logged redaction" in await _problem(scratch)
