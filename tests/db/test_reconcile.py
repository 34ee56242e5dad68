"""`audit verify` reconciles the state tables with the log: a database superuser who edits,
inserts or deletes a record without an event is found, and the record is named."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import text

from domain.actors import Actor, ActorKind, Grant, Role
from domain.data_queries import Target
from domain.design import ContactMode
from domain.diaries import LatePolicy
from domain.enrolment import Platform
from domain.exports import ExportFormat
from domain.reminders import Policy, ReminderRule, When
from domain.schedules import Recurrence
from domain.services import (
    contacts,
    data_queries,
    design,
    diaries,
    enrolment,
    exports,
    users,
    visits,
)
from domain.visits import VisitOutcome
from infra.auth.password_screen import ZxcvbnScreen
from infra.auth.passwords import Argon2Passwords
from infra.eventlog.reconcile import AUDITED
from tests.conftest import Scratch
from tests.db.test_tamper import superuser
from tests.factories import admin, caller
from tests.world import World, add_diary, build_world

HASHER = Argon2Passwords(time_cost=1, memory_kib=64)


@dataclass
class Full:
    world: World
    staff_id: uuid.UUID


async def full_world(scratch: Scratch) -> Full:
    """A row in every audited table, each made through its use case."""
    services = scratch.runtime.services
    uow = services.uow
    world = await build_world(uow)
    await add_diary(uow, world)
    boss = caller(admin())
    staff = await users.create_staff_user(
        uow=uow(),
        passwords=HASHER,
        screen=ZxcvbnScreen(),
        ctx=boss,
        email="rita@example.org",
        name="Rita Monitor",
        password="a long passphrase",
        grants=(Grant(Role.MONITOR, world.study.id, world.site.id),),
    )
    week = await design.create_visit_definition(
        uow=uow(),
        ctx=boss,
        study_id=world.study.id,
        code="W1",
        name="Week 1",
        day=7,
        window_before=1,
        window_after=1,
        modes=(ContactMode.VIDEO,),
    )
    site_staff = caller(world.coordinator)
    visit = await visits.schedule(
        uow=uow(),
        ctx=site_staff,
        participant_id=world.people[0].id,
        definition_id=week.id,
        mode=ContactMode.VIDEO,
        local_start=datetime(2026, 6, 17, 10, 0),
    )
    await visits.complete(
        uow=uow(), ctx=site_staff, visit_id=visit.id, outcome=VisitOutcome.DONE, notes="Fine"
    )
    monitor = caller(
        Actor(ActorKind.STAFF, staff.id, (Grant(Role.MONITOR, world.study.id, world.site.id),))
    )
    await data_queries.raise_query(
        uow=uow(),
        ctx=monitor,
        target=Target("Visit", visit.id, None),
        question="Was this by video?",
    )
    issued = await enrolment.issue_code(
        uow=uow(), tokens=services.tokens, ctx=site_staff, participant_id=world.people[0].id
    )
    await enrolment.enrol(
        uow=uow(),
        tokens=services.tokens,
        ctx=caller(),
        code=issued.code,
        platform=Platform.ANDROID,
        model="Pixel",
        os_version="15",
        app_version="1.0",
    )
    await exports.start(uow=uow(), ctx=boss, study_id=world.study.id, format=ExportFormat.SDTM)
    await scratch.runtime.seal_checkpoints()
    return Full(world, staff.id)


@pytest.fixture
async def full(scratch: Scratch) -> Full:
    return await full_world(scratch)


# One superuser edit per audited table: a logged column of one row changed, no event written.
EDITS = {
    "studies": "title = 'Forged'",
    "sites": "name = 'Forged'",
    "participants": "status = 'COMPLETED'",
    "participant_contacts": "phone_sealed = NULL",
    "staff_users": "status = 'DISABLED'",
    "arms": "name = 'Forged'",
    "visit_definitions": "window_after = 30",
    "consent_versions": "content_hash = repeat('0', 64)",
    "consents": "language = 'xx'",
    "questionnaire_versions": "published_at = published_at - interval '1 day'",
    "diary_schedules": "late_grace_seconds = late_grace_seconds + 60",
    "diary_entries": "answers = jsonb_set(answers, '{SEVERITY}', '9')",
    "devices": "model = 'Forged'",
    "device_readings": "deleted_at = NULL",
    "visits": "outcome = 'NO_SHOW'",
    "data_queries": "status = 'CLOSED'",
    "export_jobs": "format = 'ODM'",
    "app_installations": "model = 'Forged'",
}


def test_every_audited_table_has_an_attack() -> None:
    assert set(EDITS) == {a.table for a in AUDITED}


async def test_untouched_state_tables_match_the_log(scratch: Scratch, full: Full) -> None:
    report = await scratch.runtime.verify_audit()
    assert report.ok, report.problems
    assert report.records >= len(AUDITED)


async def test_an_edit_to_any_audited_table_is_found_and_the_record_named(
    scratch: Scratch, full: Full
) -> None:
    edited = {}
    async with superuser(scratch) as connection:
        for audited in AUDITED:
            key, table = audited.key, audited.table
            changed = await connection.execute(
                text(
                    f"UPDATE {table} SET {EDITS[table]} WHERE {key} = "
                    f"(SELECT {key} FROM {table} ORDER BY {key} LIMIT 1) RETURNING {key}"
                )
            )
            (edited[audited.entity],) = {r[0] for r in changed}
    report = await scratch.runtime.verify_audit()
    for entity, record in edited.items():
        found = [p for p in report.problems if p.reason.startswith(f"{entity} {record}:")]
        assert found, (entity, report.problems)
        assert "is not what its events say" in found[0].reason
        assert found[0].log.startswith("hearth/")  # the log and position of its last event
        assert found[0].position is not None


async def test_a_row_inserted_without_an_event_is_found(scratch: Scratch, full: Full) -> None:
    forged = uuid.uuid4()
    async with superuser(scratch) as connection:
        await connection.execute(
            text(
                "INSERT INTO arms (id, study_id, code, name, created_at) "
                "SELECT :id, study_id, 'B', 'Forged', created_at FROM arms"
            ),
            {"id": forged},
        )
    report = await scratch.runtime.verify_audit()
    assert any(f"Arm {forged}: no event records it" in p.reason for p in report.problems), (
        report.problems
    )


async def test_a_row_deleted_without_an_event_is_found(scratch: Scratch, full: Full) -> None:
    async with superuser(scratch) as connection:
        (visit,) = (await connection.execute(text("DELETE FROM visits RETURNING id"))).all()
        await connection.execute(text("DELETE FROM data_queries"))
    report = await scratch.runtime.verify_audit()
    assert any(
        f"Visit {visit[0]}: its row was deleted outside the application" in p.reason
        for p in report.problems
    ), report.problems


async def test_an_erased_participants_contact_may_be_gone(scratch: Scratch, full: Full) -> None:
    await contacts.erase_participant(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        participant_id=full.world.people[1].id,
        legal_basis="GDPR Art. 17",
    )
    assert (await scratch.runtime.verify_audit()).ok


async def test_a_diarys_own_reminder_policy_is_reconciled_too(scratch: Scratch) -> None:
    """Stored as the trail logs it: untouched it matches; a superuser's quieter policy is found."""
    uow = scratch.runtime.services.uow
    world = await build_world(uow)
    await add_diary(uow, world)
    own = Policy(rules=(ReminderRule("last_call", When.BEFORE_CLOSE, minutes=15),), daily_cap=2)
    schedule = await diaries.create_schedule(
        uow=uow(),
        ctx=caller(admin()),
        study_id=world.study.id,
        questionnaire_code="SYMPTOMS",
        arm_id=None,
        recurrence=Recurrence(times=(time(18, 0),), window=timedelta(hours=1)),
        late_policy=LatePolicy.REJECT,
        late_grace=timedelta(0),
        reminders=own,
    )
    assert (await scratch.runtime.verify_audit()).ok
    async with superuser(scratch) as connection:
        await connection.execute(
            text(
                "UPDATE diary_schedules SET reminder_policy = "
                "jsonb_set(reminder_policy, '{daily_cap}', '50') WHERE id = :id"
            ),
            {"id": schedule.id},
        )
    report = await scratch.runtime.verify_audit()
    assert [p.reason for p in report.problems if str(schedule.id) in p.reason] == [
        f"DiarySchedule {schedule.id}: `reminder_policy` is not what its events say"
    ]
