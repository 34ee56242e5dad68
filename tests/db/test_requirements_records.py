"""Requirements of records proven on PostgreSQL: signatures stay on their record, collection
needs the current consent, and ciphertexts cannot be moved to another row or column."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from domain.actors import Actor, ActorKind, Grant, Role
from domain.consent import ConsentText
from domain.intake import Outcome
from domain.services import consent, contacts, diaries, readings, signatures, users
from domain.signatures import Meaning
from infra.auth.password_screen import ZxcvbnScreen
from infra.auth.passwords import Argon2Passwords
from infra.crypto.envelope import DecryptionError
from infra.db.uow import SqlUnitOfWorkFactory
from tests.clock import PinnedClock
from tests.factories import admin, caller
from tests.world import PEOPLE, World, add_diary, build_world
from tests.world_app import app_of, give_watch, heartbeat, open_entry

SCREEN = ZxcvbnScreen()
HASHER = Argon2Passwords(time_cost=1, memory_kib=64)
PASSWORD = "the investigator's passphrase"


async def _sql(uow: SqlUnitOfWorkFactory, statement: str, **values: object) -> None:
    """Change rows behind the application's back (as a tamperer would) and commit."""
    async with uow() as unit:
        await unit.session.execute(text(statement), values)
        await unit.commit()


async def _investigator(uow: SqlUnitOfWorkFactory, world: World) -> Actor:
    grant = Grant(Role.INVESTIGATOR, world.study.id, world.site.id)
    user = await users.create_staff_user(
        uow=uow(),
        passwords=HASHER,
        screen=SCREEN,
        ctx=caller(admin()),
        email=f"inv-{uuid.uuid4().hex[:6]}@example.org",
        name="Dr. Ines Vogel",
        password=PASSWORD,
        grants=(grant,),
    )
    return Actor(ActorKind.STAFF, user.id, (grant,))


async def _other_entry(uow: SqlUnitOfWorkFactory, world: World, entry: uuid.UUID) -> uuid.UUID:
    """The first participant's other diary entry (the one her site entered for her)."""
    async with uow() as unit:
        other = await unit.session.scalar(
            text("SELECT id FROM diary_entries WHERE participant_id = :p AND id <> :e"),
            {"p": world.people[0].id, "e": entry},
        )
    assert isinstance(other, uuid.UUID)
    return other


async def test_a_signature_moved_to_another_record_does_not_sign_it(
    uow: SqlUnitOfWorkFactory,
) -> None:
    """Requirement 14: move a signature's row to another record of the same type and version:
    it shows as invalid there, and the record it left is no longer signed."""
    world = await build_world(uow)
    diary = await add_diary(uow, world)  # her entry is at version 2 (corrected once)
    other = await _other_entry(uow, world, diary.entry_id)
    await diaries.correct_entry(
        uow=uow(),
        ctx=caller(world.coordinator),
        entry_id=other,
        changes={"SEVERITY": 3},
        reason="Daughter read the wrong line",
    )  # now at version 2 as well: only the binding to the record tells them apart
    investigator = caller(await _investigator(uow, world))
    signed = await signatures.sign_record(
        uow=uow(),
        passwords=HASHER,
        ctx=investigator,
        record_type="DiaryEntry",
        record_id=diary.entry_id,
        meaning=Meaning.RESPONSIBILITY,
        password=PASSWORD,
    )

    async def shown(record: uuid.UUID) -> list[tuple[uuid.UUID, bool]]:
        found = await signatures.signatures_of(
            uow=uow(), ctx=investigator, record_type="DiaryEntry", record_id=record
        )
        return [(s.signature.id, s.valid) for s in found]

    assert await shown(diary.entry_id) == [(signed.id, True)]
    await _sql(uow, "UPDATE signatures SET record_id = :o WHERE id = :s", o=other, s=signed.id)
    assert await shown(other) == [(signed.id, False)]
    assert await shown(diary.entry_id) == []


async def test_collection_needs_a_consent_to_the_current_version(
    uow: SqlUnitOfWorkFactory, clock: PinnedClock
) -> None:
    """Requirement 30: after a new consent version, what is collected before re-consent is held back (quarantined CONSENT_SUPERSEDED, never analysed),
    and after re-consent new data is accepted again."""
    world = await build_world(uow)
    me = app_of(world)
    await add_diary(uow, world)
    watch = await give_watch(uow, world, clock, days=1)
    before = await open_entry(uow, world, clock.now() + timedelta(hours=1))
    after = await open_entry(uow, world, clock.now() + timedelta(hours=2))
    version = await consent.publish_version(
        uow=uow(),
        ctx=caller(admin()),
        study_id=world.study.id,
        texts=(ConsentText("en", "Consent v2", "Now with home visits."),),
    )
    state = await consent.state(
        uow=uow(), ctx=caller(world.coordinator), participant_id=world.people[0].id
    )
    assert not state.current
    clock.advance(hours=1)  # collected after the new version was published, not yet signed
    (held,) = await diaries.submit(uow=uow(), ctx=me, submissions=[before])
    assert (held.outcome, held.code) == (Outcome.QUARANTINED, "CONSENT_SUPERSEDED")
    batch = await readings.ingest(uow=uow(), ctx=me, items=[heartbeat(watch, clock.now())])
    assert [(i.outcome, i.code) for i in batch.items] == [
        (Outcome.QUARANTINED, "CONSENT_SUPERSEDED")
    ]
    await consent.sign(
        uow=uow(), ctx=me, consent_version_id=version.id, language="en", name="A. Quartermaine"
    )
    clock.advance(hours=1)
    (accepted,) = await diaries.submit(uow=uow(), ctx=me, submissions=[after])
    assert (accepted.outcome, accepted.code) == (Outcome.ACCEPTED, None)
    again = await readings.ingest(uow=uow(), ctx=me, items=[heartbeat(watch, clock.now())])
    assert [i.outcome for i in again.items] == [Outcome.ACCEPTED]


async def test_a_ciphertext_copied_to_another_row_or_column_does_not_open(
    uow: SqlUnitOfWorkFactory,
) -> None:
    """Requirement 49: the same subject's key, another row or another column: refused, never
    shown as if it belonged there."""
    world = await build_world(uow)
    diary = await add_diary(uow, world)
    person, staff = world.people[0], caller(world.coordinator)
    other = await _other_entry(uow, world, diary.entry_id)
    await _sql(
        uow,
        "UPDATE diary_entries SET free_text_sealed = "
        "(SELECT free_text_sealed FROM diary_entries WHERE id = :e) WHERE id = :o",
        e=diary.entry_id,
        o=other,
    )
    with pytest.raises(DecryptionError):
        await diaries.get_entry(uow=uow(), ctx=staff, entry_id=other)
    assert (await diaries.get_entry(uow=uow(), ctx=staff, entry_id=diary.entry_id)).free_text
    await _sql(
        uow,
        "UPDATE participant_contacts SET address_sealed = full_name_sealed "
        "WHERE participant_id = :p",
        p=person.id,
    )
    with pytest.raises(DecryptionError):
        await contacts.get_contact(uow=uow(), ctx=staff, participant_id=person.id)
    kept = await contacts.get_contact(uow=uow(), ctx=staff, participant_id=world.people[1].id)
    assert kept is not None
    assert kept.full_name == PEOPLE[1]["full_name"]
