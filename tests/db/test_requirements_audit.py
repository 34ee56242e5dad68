"""Requirements of the audit trail proven on PostgreSQL: history kept, deletes logical, the
log always on, configuration audited, user ids never reused, timestamps with offsets."""

from __future__ import annotations

import uuid
from datetime import time, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.schema import build_schema
from domain.actors import Actor, Grant, Role
from domain.consent import ConsentText
from domain.design import ContactMode
from domain.diaries import LatePolicy
from domain.errors import DomainError, ErrorCode
from domain.pagination import PageRequest
from domain.ports import UnitOfWorkFactory
from domain.questionnaires import Item, ItemType, QuestionnaireDraft
from domain.schedules import Recurrence
from domain.services import (
    consent,
    design,
    diaries,
    keys,
    questionnaires,
    studies,
    trail,
    users,
)
from domain.trail import TrailEvent, TrailQuery
from domain.users import UserStatus
from infra.auth.password_screen import ZxcvbnScreen
from infra.auth.passwords import Argon2Passwords
from infra.db.uow import SqlUnitOfWorkFactory
from tests.conftest import Scratch
from tests.factories import admin, caller, make_study
from tests.world import CORRECTION_REASON, DELETE_REASON, add_diary, build_world

SCREEN = ZxcvbnScreen()
HASHER = Argon2Passwords(time_cost=1, memory_kib=64)


async def _trail(uow: UnitOfWorkFactory, actor: Actor, **query: object) -> list[TrailEvent]:
    page = await trail.audit_trail(
        uow=uow(),
        ctx=caller(actor),
        query=TrailQuery(**query),  # type: ignore[arg-type]
        request=PageRequest(first=100),
    )
    return list(page.items)


async def test_two_updates_show_three_versions_in_order(uow: SqlUnitOfWorkFactory) -> None:
    """Requirement 4: prior values stay readable, in order, after every update."""
    world = await build_world(uow)
    diary = await add_diary(uow, world)  # submitted SEVERITY 6, corrected to 5
    await diaries.correct_entry(
        uow=uow(),
        ctx=caller(world.coordinator),
        entry_id=diary.entry_id,
        changes={"SEVERITY": 4},
        reason="Checked against the paper diary",
    )
    events = await _trail(
        uow, world.coordinator, entity_id=diary.entry_id, field="answers.SEVERITY"
    )
    history = [
        (e.action, f.old.value, f.new.value, e.reason.value if e.reason else None)
        for e in events
        for f in e.fields
        if f.field == "answers.SEVERITY"
    ]
    assert history == [
        ("submitted", None, 6, None),
        ("corrected", 6, 5, CORRECTION_REASON),
        ("corrected", 5, 4, "Checked against the paper diary"),
    ]
    # The trail lists events as they were written (positions come once they are sequenced).
    current = await diaries.get_entry(
        uow=uow(), ctx=caller(world.coordinator), entry_id=diary.entry_id
    )
    assert (current.answers["SEVERITY"], current.version) == (4, 3)


async def test_a_deleted_reading_stays_flagged_with_its_reason_and_actor(
    uow: SqlUnitOfWorkFactory, app_engine: AsyncEngine
) -> None:
    """Requirement 5: a "delete" keeps the row, flags it, and logs who and why."""
    world = await build_world(uow)
    diary = await add_diary(uow, world)  # the coordinator deleted the reading with a reason
    async with uow() as unit:
        row = (
            await unit.session.execute(
                text("SELECT deleted_at FROM device_readings WHERE id = :id"),
                {"id": diary.reading_id},
            )
        ).one()
    assert row.deleted_at is not None
    (deleted,) = await _trail(uow, world.coordinator, entity_id=diary.reading_id)
    assert (deleted.action, deleted.actor_id, deleted.actor_role) == (
        "deleted",
        world.coordinator.id,
        "COORDINATOR",
    )
    assert deleted.reason is not None
    assert deleted.reason.value == DELETE_REASON
    assert [f.field for f in deleted.fields] == ["deleted_at"]
    async with app_engine.connect() as connection:
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text("DELETE FROM device_readings"))


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_events_append_only ON audit_events",
        "DROP FUNCTION hearth_forbid_rewrite() CASCADE",
        "SET session_replication_role = replica",
        "ALTER TABLE audit_events RENAME TO audit_events_off",
    ],
)
async def test_the_server_role_cannot_switch_the_log_off(
    app_engine: AsyncEngine, statement: str
) -> None:
    """Requirement 7: the server's database role can neither disable nor bypass the log."""
    async with app_engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(statement))
    message = str(raised.value.orig).lower()
    assert "must be owner" in message or "permission denied" in message, message


def _draft() -> QuestionnaireDraft:
    return QuestionnaireDraft(
        code="MOOD",
        title={"en": "Mood"},
        languages=("en",),
        items=(Item("MOOD", ItemType.INTEGER, {"en": "Mood?"}, minimum=0, maximum=5),),
    )


async def test_configuration_changes_are_audited(scratch: Scratch) -> None:
    """Requirement 7: study design, accounts, roles and keys change only with an event."""
    uow, boss = scratch.runtime.services.uow, admin()
    ctx = caller(boss)
    study = await studies.create_study(uow=uow(), ctx=ctx, code=make_study().code, title="Cfg")
    site = await studies.create_site(
        uow=uow(),
        ctx=ctx,
        study_id=study.id,
        code="OSL",
        name="Oslo",
        country="NO",
        timezone="Europe/Oslo",
    )
    await design.create_arm(uow=uow(), ctx=ctx, study_id=study.id, code="A", name="Active")
    await design.create_visit_definition(
        uow=uow(),
        ctx=ctx,
        study_id=study.id,
        code="W1",
        name="Week 1",
        day=7,
        window_before=1,
        window_after=1,
        modes=(ContactMode.PHONE,),
    )
    await consent.publish_version(
        uow=uow(), ctx=ctx, study_id=study.id, texts=(ConsentText("en", "C", "Body"),)
    )
    await questionnaires.publish_version(uow=uow(), ctx=ctx, study_id=study.id, draft=_draft())
    await diaries.create_schedule(
        uow=uow(),
        ctx=ctx,
        study_id=study.id,
        questionnaire_code="MOOD",
        arm_id=None,
        recurrence=Recurrence(times=(time(20, 0),), window=timedelta(hours=2)),
        late_policy=LatePolicy.REJECT,
        late_grace=timedelta(0),
    )
    user = await users.create_staff_user(
        uow=uow(),
        passwords=HASHER,
        screen=SCREEN,
        ctx=ctx,
        email=f"cfg-{uuid.uuid4().hex[:6]}@example.org",
        name="Config Person",
        password="a long enough passphrase",
        grants=(),
    )
    await users.set_grants(
        uow=uow(), ctx=ctx, user_id=user.id, add=(Grant(Role.MONITOR, site_id=site.id),)
    )
    await users.set_status(
        uow=uow(), ctx=ctx, user_id=user.id, status=UserStatus.DISABLED, reason="Left the study"
    )
    await keys.rotate_keys(uow=uow(), ctx=ctx)
    logged = {(e.entity_type, e.action) for e in await _trail(uow, boss) if e.actor_id == boss.id}
    assert {
        ("Study", "created"),
        ("Site", "created"),
        ("Arm", "created"),
        ("VisitDefinition", "created"),
        ("ConsentVersion", "created"),
        ("QuestionnaireVersion", "created"),
        ("DiarySchedule", "created"),
        ("StaffUser", "created"),
        ("StaffUser", "updated"),
        ("StaffUser", "status_changed"),
        ("KeyEncryptionKey", "rotated"),
    } <= logged


async def test_user_ids_are_unique_and_never_reused(uow: SqlUnitOfWorkFactory) -> None:
    """Requirement 16: a departed user's account stays theirs; its login cannot be handed on."""
    email = f"leaver-{uuid.uuid4().hex[:6]}@example.org"

    async def create(address: str, name: str) -> uuid.UUID:
        made = await users.create_staff_user(
            uow=uow(),
            passwords=HASHER,
            screen=SCREEN,
            ctx=caller(admin()),
            email=address,
            name=name,
            password="a long enough passphrase",
            grants=(),
        )
        return made.id

    leaver = await create(email, "First Holder")
    other = await create(f"other-{uuid.uuid4().hex[:6]}@example.org", "Other Person")
    assert leaver != other
    await users.set_status(
        uow=uow(),
        ctx=caller(admin()),
        user_id=leaver,  # type: ignore[arg-type]
        status=UserStatus.DISABLED,
        reason="Left the site",
    )
    with pytest.raises(DomainError) as raised:
        await create(email.upper(), "Second Holder")
    assert raised.value.code is ErrorCode.ALREADY_EXISTS
    kept = await users.get_user(uow=uow(), ctx=caller(admin()), user_id=leaver)  # type: ignore[arg-type]
    assert (kept.id, kept.status) == (leaver, UserStatus.DISABLED)
    mutations = build_schema(production=False)._schema.mutation_type
    assert mutations is not None
    assert not [m for m in mutations.fields if "user" in m.lower() and "delete" in m.lower()]


async def test_every_stored_timestamp_carries_its_offset(owner_engine: AsyncEngine) -> None:
    """Requirement 18: no timestamp column of the schema drops the time zone."""
    async with owner_engine.connect() as connection:
        columns = (
            await connection.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type "
                    "FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'"
                )
            )
        ).all()
    assert len(columns) > 30
    naive = [name for name, kind in columns if kind != "timestamp with time zone"]
    assert naive == []
