"""Encrypted storage and privacy on PostgreSQL: dumps, erasure, redaction, key rotation."""

from __future__ import annotations

import stat
import uuid

import pytest
from sqlalchemy import text

from domain.actors import Actor, Role
from domain.contacts import ContactField
from domain.errors import DomainError, ErrorCode
from domain.pagination import PageRequest
from domain.readings import ReadingKind
from domain.services import contacts, devices, diaries, keys, participants, trail
from domain.trail import TrailQuery, ValueState
from infra.db.data_keys import DataKeyStore
from infra.db.engine import create_engine
from tests.conftest import Scratch
from tests.factories import admin, caller, staff
from tests.world import (
    CORRECTION_REASON,
    DELETE_REASON,
    DIARY_TEXT,
    PEOPLE,
    PROXY_REASON,
    REASON,
    add_diary,
    build_world,
)

SECRETS = [
    *(p["full_name"] for p in PEOPLE),
    *(p["email"] for p in PEOPLE),
    *(p["phone"] for p in PEOPLE),
    *(p["date_of_birth"].isoformat() for p in PEOPLE),
    *(p["address"] for p in PEOPLE),
    REASON,
    "Möllendorffstraße",
    DIARY_TEXT,
    PROXY_REASON,
    CORRECTION_REASON,
    DELETE_REASON,
    # Identifiers beside the contact details: screening numbers and a device serial.
    "SCR-000",
    "SCR-001",
    "OM-12345",
]


async def _dump(scratch: Scratch) -> str:
    """Every text, bytea and json column of every table, as the database superuser sees it."""
    engine = create_engine(scratch.owner_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            columns = await connection.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND data_type IN "
                    "('text', 'character varying', 'bytea', 'jsonb', 'json', 'date', 'ARRAY')"
                )
            )
            parts = []
            for table, column in columns.all():
                rows = await connection.execute(text(f'SELECT "{column}"::text FROM "{table}"'))
                parts += [r[0] for r in rows if r[0] is not None]
    finally:
        await engine.dispose()
    return "\n".join(parts)


async def test_a_dump_shows_no_personal_data(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    diary = await add_diary(scratch.runtime.services.uow, world)
    cuff = await devices.register(
        uow=scratch.runtime.services.uow(),
        ctx=caller(world.coordinator),
        site_id=world.site.id,
        kinds=(ReadingKind.BLOOD_PRESSURE,),
        model="Omron",
        serial="OM-12345",
    )
    dump = (await _dump(scratch)).lower()
    for secret in SECRETS:
        assert secret.lower() not in dump, secret
    # Bytea shows as hex in a dump: the raw data keys must not appear either.
    async with scratch.runtime.storage.sessions() as session:
        store = DataKeyStore(session, scratch.runtime.keys, scratch.runtime.storage.clock)
        key = await store.live(world.people[0].id)
    assert key is not None
    assert key.secret.hex() not in dump
    # ...and the data is there, readable to the coordinator.
    detail = await contacts.get_contact(
        uow=scratch.runtime.services.uow(),
        ctx=caller(world.coordinator),
        participant_id=world.people[0].id,
    )
    assert detail is not None
    assert detail.full_name == PEOPLE[0]["full_name"]
    entry = await diaries.get_entry(
        uow=scratch.runtime.services.uow(), ctx=caller(world.coordinator), entry_id=diary.entry_id
    )
    assert entry.free_text == {"NOTE": DIARY_TEXT}
    ctx = caller(world.coordinator)
    stored = await devices.get(uow=scratch.runtime.services.uow(), ctx=ctx, device_id=cuff.id)
    assert devices.serial_of(ctx, stored) == "OM-12345"
    person = await participants.get_participant(
        uow=scratch.runtime.services.uow(), ctx=ctx, participant_id=world.people[1].id
    )
    assert participants.screening_number_of(ctx, person) == "SCR-001"


async def _trail(scratch: Scratch, actor: Actor, **query: object) -> list[object]:
    page = await trail.audit_trail(
        uow=scratch.runtime.services.uow(),
        ctx=caller(actor),
        query=TrailQuery(**query),  # type: ignore[arg-type]
        request=PageRequest(first=100),
    )
    return list(page.items)


async def test_erasure_shreds_one_participant_and_the_chain_still_verifies(
    scratch: Scratch,
) -> None:
    world = await build_world(scratch.runtime.services.uow)
    uow = scratch.runtime.services.uow
    gone, kept = world.people
    with pytest.raises(DomainError):  # coordinators may not erase
        await contacts.erase_participant(
            uow=uow(), ctx=caller(world.coordinator), participant_id=gone.id, legal_basis="x"
        )
    erased = await contacts.erase_participant(
        uow=uow(),
        ctx=caller(admin()),
        participant_id=gone.id,
        legal_basis="GDPR Art. 17(1)(b), ref 114",
    )
    assert erased.erased_at is not None
    ctx = caller(world.coordinator)
    assert await contacts.get_contact(uow=uow(), ctx=ctx, participant_id=gone.id) is None
    assert (
        await contacts.get_contact(uow=uow(), ctx=ctx, participant_id=kept.id)
    ) == world.contacts[1]
    # Pseudonymous data stays; personal data cannot be written again.
    assert (
        await participants.get_participant(uow=uow(), ctx=ctx, participant_id=gone.id)
    ).subject_id == gone.subject_id
    with pytest.raises(DomainError) as raised:
        await contacts.set_contact(
            uow=uow(),
            ctx=ctx,
            participant_id=gone.id,
            full_name="Again",
            email=None,
            phone=None,
            date_of_birth=None,
            address=None,
        )
    assert raised.value.code is ErrorCode.PARTICIPANT_ERASED
    # The erasure is logged with its legal basis in the clear; the erased values read ERASED.
    events = await _trail(scratch, world.coordinator, participant_id=gone.id)
    erasure = events[-1]
    assert erasure.action == "erased"  # type: ignore[attr-defined]
    assert erasure.reason.value == "GDPR Art. 17(1)(b), ref 114"  # type: ignore[attr-defined]
    contact_event = next(e for e in events if e.entity_type == "ParticipantContact")  # type: ignore[attr-defined]
    name = next(f for f in contact_event.fields if f.field == "full_name")  # type: ignore[attr-defined]
    assert name.new.state == ValueState.ERASED
    report = await scratch.runtime.verify_audit()
    assert report.ok, report.problem
    assert report.erased > 0
    assert report.sealed_values > 0
    # The e-mail can no longer be tested against the blind index either.
    assert (
        await contacts.find_by_contact(
            uow=uow(), ctx=ctx, study_id=world.study.id, email=PEOPLE[0]["email"], phone=None
        )
        == []
    )


async def test_redaction_removes_a_mistaken_value_everywhere(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    uow, ctx = scratch.runtime.services.uow, caller(world.coordinator)
    someone = world.people[1]
    mistaken = "Diagnosed with HIV, told me on the phone"
    await contacts.set_contact(
        uow=uow(),
        ctx=ctx,
        participant_id=someone.id,
        expected_version=1,
        **(PEOPLE[1] | {"address": mistaken}),
    )
    with pytest.raises(DomainError) as raised:
        await contacts.redact_contact(
            uow=uow(), ctx=ctx, participant_id=someone.id, field=ContactField.ADDRESS, reason=" "
        )
    assert raised.value.code is ErrorCode.REASON_REQUIRED
    fixed = await contacts.redact_contact(
        uow=uow(),
        ctx=ctx,
        participant_id=someone.id,
        field=ContactField.ADDRESS,
        reason="Health information typed into the address field",
        replacement=PEOPLE[1]["address"],
    )
    assert fixed.address == PEOPLE[1]["address"]
    events = await _trail(scratch, world.coordinator, participant_id=someone.id, field="address")
    states = [(f.old.state, f.new.state) for e in events for f in e.fields if f.field == "address"]  # type: ignore[attr-defined]
    assert (ValueState.PLAIN, ValueState.REVEALED) in states  # the original value, still there
    assert (ValueState.REVEALED, ValueState.REDACTED) in states  # the mistake, gone
    assert (ValueState.REDACTED, ValueState.REVEALED) not in states
    redaction = events[-1]
    assert redaction.action == "redacted"  # type: ignore[attr-defined]
    assert redaction.reason.value == "Health information typed into the address field"  # type: ignore[attr-defined]
    assert mistaken.lower() not in (await _dump(scratch)).lower()
    report = await scratch.runtime.verify_audit()
    assert report.ok, report.problem
    assert report.redacted == 1  # the one logged copy; the redaction itself never logs it


async def test_rotation_rewraps_every_data_key_and_old_data_still_opens(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    provider = scratch.runtime.keys
    before = provider.current_kek_id
    with pytest.raises(DomainError):
        await keys.rotate_keys(uow=scratch.runtime.services.uow(), ctx=caller(world.coordinator))
    done = await keys.rotate_keys(uow=scratch.runtime.services.uow(), ctx=caller())
    assert (done.old_kek, done.new_kek) == (before, provider.current_kek_id)
    assert done.rewrapped == 2  # the two participants: nobody else in this fresh database
    async with scratch.runtime.storage.sessions() as session:
        wrapped_with = {r[0] for r in await session.execute(text("SELECT kek_id FROM data_keys"))}
    assert wrapped_with == {done.new_kek}
    detail = await contacts.get_contact(
        uow=scratch.runtime.services.uow(),
        ctx=caller(world.coordinator),
        participant_id=world.people[0].id,
    )
    assert detail == world.contacts[0]
    assert stat.S_IMODE(scratch.settings.key_path.stat().st_mode) == 0o600
    events = await _trail(scratch, admin(), entity_type="KeyEncryptionKey")
    assert [e.action for e in events] == ["rotated"]  # type: ignore[attr-defined]
    assert (await scratch.runtime.verify_audit()).ok


async def test_the_trail_is_searchable_and_reveals_only_to_those_allowed(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    first = world.people[0]
    coordinator = world.coordinator
    # Requirement 4: two updates after creation make three versions, in order.
    versions = await _trail(
        scratch, coordinator, entity_type="ParticipantContact", entity_id=first.id
    )
    addresses = [next(f for f in e.fields if f.field == "address") for e in versions]  # type: ignore[attr-defined]
    assert [a.new.value for a in addresses] == [
        PEOPLE[0]["address"],
        "Möllendorffstraße 3, 10367 Berlin",
    ]
    # Requirement 8: one changed field of five is one field change.
    assert [f.field for f in versions[1].fields] == ["address"]  # type: ignore[attr-defined]
    # Who: the coordinator; when: server UTC; newest first reverses the order.
    assert versions[1].actor_id == coordinator.id  # type: ignore[attr-defined]
    assert versions[1].actor_role == "COORDINATOR"  # type: ignore[attr-defined]
    await scratch.runtime.seal_checkpoints()  # positions are given when events are sequenced
    newest = await _trail(scratch, coordinator, participant_id=first.id, newest_first=True)
    assert [e.position for e in newest] == sorted((e.position for e in newest), reverse=True)  # type: ignore[attr-defined]
    # Monitors and data managers see the events, never the personal values.
    for reader in (
        staff(Role.MONITOR, world.study.id, world.site.id),
        staff(Role.DATA_MANAGER, world.study.id),
    ):
        seen = await _trail(scratch, reader, entity_type="ParticipantContact", entity_id=first.id)
        assert len(seen) == 2
        states = {f.new.state for e in seen for f in e.fields if f.personal}  # type: ignore[attr-defined]
        assert states == {ValueState.WITHHELD}
    # A coordinator elsewhere sees nothing of this site; sealed reasons stay sealed for monitors.
    outsider = staff(Role.COORDINATOR, world.study.id, uuid.uuid4())  # type: ignore[arg-type]
    assert await _trail(scratch, outsider, participant_id=first.id) == []
    status = await _trail(
        scratch,
        staff(Role.MONITOR, world.study.id, world.site.id),
        participant_id=world.people[1].id,
        field="status",
    )
    assert status[-1].reason.state == ValueState.WITHHELD  # type: ignore[attr-defined]
    mine = await _trail(scratch, coordinator, participant_id=world.people[1].id, field="status")
    assert mine[-1].reason.value == REASON  # type: ignore[attr-defined]
    # Time ranges and pages.
    everything = await _trail(scratch, admin())
    cut = everything[3].recorded_at  # type: ignore[attr-defined]
    later = await _trail(scratch, admin(), since=cut)
    assert all(e.recorded_at >= cut for e in later)  # type: ignore[attr-defined]
    page = await trail.audit_trail(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        query=TrailQuery(),
        request=PageRequest(first=2),
    )
    assert page.has_next_page
    assert len(page.items) == 2


async def test_participants_are_found_by_contact_through_blind_indexes(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    uow, ctx = scratch.runtime.services.uow, caller(world.coordinator)
    by_email = await contacts.find_by_contact(
        uow=uow(),
        ctx=ctx,
        study_id=world.study.id,
        email=" AMELIA.Quartermaine@example.org ",
        phone=None,
    )
    assert [p.id for p in by_email] == [world.people[0].id]
    by_phone = await contacts.find_by_contact(
        uow=uow(), ctx=ctx, study_id=world.study.id, email=None, phone="+44 (20) 7946-0958"
    )
    assert [p.id for p in by_phone] == [world.people[1].id]
    manager = caller(staff(Role.DATA_MANAGER, world.study.id))
    with pytest.raises(DomainError) as raised:
        await contacts.find_by_contact(
            uow=uow(),
            ctx=manager,
            study_id=world.study.id,
            email="b.okonkwo@example.net",
            phone=None,
        )
    assert raised.value.code is ErrorCode.FORBIDDEN
    with pytest.raises(DomainError):
        await contacts.get_contact(uow=uow(), ctx=manager, participant_id=world.people[0].id)


async def test_app_role_cannot_delete_keys_or_sealed_values(scratch: Scratch) -> None:
    await build_world(scratch.runtime.services.uow)
    for statement in (
        "DELETE FROM data_keys",
        "DELETE FROM audit_sealed_values",
        "DELETE FROM audit_checkpoints",
    ):
        async with scratch.runtime.engine.connect() as connection:
            with pytest.raises(Exception, match="permission denied"):
                await connection.execute(text(statement))
