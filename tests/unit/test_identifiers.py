"""One rule for identifiers, on in-memory fakes: who reads them, how they are logged, and
contact updates that keep what they do not name."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime

import pytest

from api.policy import FIELD_RULES
from domain import access
from domain.access import Permission, Scope
from domain.actors import RequestContext, Role
from domain.contacts import ContactDetails
from domain.devices import Device
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId
from domain.participants import Participant
from domain.readings import ReadingKind
from domain.services import contacts, devices, participants
from domain.services.trail import withhold_plain_identifiers
from domain.trail import TrailEvent, TrailField, TrailValue, ValueState
from tests.factories import at_site, caller, make_participant, make_site, make_study, staff
from tests.fakes import FakeUnitOfWork

ENTITIES = {c.ENTITY: c for c in (Participant, ContactDetails, Device)}


def test_every_identifier_is_personal_on_its_entity() -> None:
    """So it is sealed in storage and logged as a commitment, never in the clear."""
    for entity, fields in access.IDENTIFIER_FIELDS.items():
        assert fields <= ENTITIES[entity].PERSONAL, entity


def test_graphql_identifier_fields_take_their_rule_from_the_access_policy() -> None:
    for path, entity, field in (
        ("Participant.screeningNumber", "Participant", "screening_number"),
        ("Device.serial", "Device", "serial"),
    ):
        type_name, name = path.split(".")
        permission = access.field_permission(entity, field)
        assert permission is Permission.IDENTIFIERS_READ
        assert FIELD_RULES[type_name][name].permissions == (permission,)
    assert access.field_permission("Device", "model") is None


def test_site_staff_and_the_participant_read_identifiers_and_nobody_else() -> None:
    site = make_site()
    person = make_participant(site)
    scope = Scope(site.study_id, site.id, person.id)
    readers = {
        role: access.may_read_field(at_site(role, site), "Participant", "screening_number", scope)
        for role in (Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR)
    }
    assert readers == {Role.COORDINATOR: True, Role.INVESTIGATOR: True, Role.MONITOR: False}
    for outsider in (staff(Role.DATA_MANAGER, site.study_id), staff(Role.ADMIN)):
        assert not access.may_read_field(outsider, "Participant", "screening_number", scope)
        assert access.may_read_field(outsider, "Participant", "status", scope)


def _logged_in_the_clear(site_id: uuid.UUID, study_id: uuid.UUID) -> TrailEvent:
    plain = TrailValue(ValueState.PLAIN, "OM-12345")
    return TrailEvent(
        position=1,
        id=uuid.uuid4(),
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        actor_kind="STAFF",
        actor_id=uuid.uuid4(),
        actor_role="COORDINATOR",
        study_id=study_id,
        site_id=site_id,
        participant_id=None,
        entity_type="Device",
        entity_id=uuid.uuid4(),
        action="created",
        fields=(
            TrailField("serial", False, TrailValue(ValueState.PLAIN), plain),
            TrailField("model", False, TrailValue(ValueState.PLAIN), TrailValue("PLAIN", "Omron")),
        ),
        reason=None,
    )


def test_identifiers_an_earlier_version_logged_in_the_clear_follow_the_field_rule() -> None:
    site = make_site()
    event = _logged_in_the_clear(site.id, site.study_id)
    hidden = withhold_plain_identifiers(staff(Role.DATA_MANAGER, site.study_id), event)
    serial, model = hidden.fields
    assert (serial.personal, serial.new) == (True, TrailValue(ValueState.WITHHELD))
    assert serial.old == TrailValue(ValueState.PLAIN)  # nothing was there before
    assert model == event.fields[1]
    shown = withhold_plain_identifiers(at_site(Role.COORDINATOR, site), event)
    assert shown.fields[0].new == TrailValue(ValueState.REVEALED, "OM-12345")


async def test_new_identifiers_are_logged_as_personal_values() -> None:
    uow = FakeUnitOfWork()
    study = make_study()
    await uow.studies.add(study)  # registration checks that the study is still open
    site = make_site(study)
    await uow.sites.add(site)
    ctx = caller(at_site(Role.COORDINATOR, site))
    person = await participants.register_participant(
        uow=uow, ctx=ctx, site_id=site.id, screening_number="SCR-001"
    )
    device = await devices.register(
        uow=uow,
        ctx=ctx,
        site_id=site.id,
        kinds=(ReadingKind.HEART_RATE,),
        model="Omron",
        serial="OM-12345",
    )
    logged = {(e.entity_type, f.field): f for e in uow.events for f in e.fields}
    assert logged[("Participant", "screening_number")].personal
    assert logged[("Device", "serial")].personal
    device_event = next(e for e in uow.events if e.entity_type == "Device")
    assert device_event.subject.key_owner == device.id  # sealed with the device's own key
    assert participants.screening_number_of(ctx, person) == "SCR-001"
    with pytest.raises(DomainError) as raised:
        participants.screening_number_of(caller(staff(Role.DATA_MANAGER, site.study_id)), person)
    assert raised.value.code is ErrorCode.FORBIDDEN


FULL = ContactDetails(
    id=make_participant().id,
    full_name="Ingrid Holmqvist",
    email="ingrid@example.org",
    phone="+46 8 123 456",
    date_of_birth=date(1957, 9, 30),
    address="Storgatan 1",
)


async def _with_contact() -> tuple[FakeUnitOfWork, RequestContext, ParticipantId]:
    uow = FakeUnitOfWork()
    site = make_site()
    await uow.sites.add(site)
    person = make_participant(site)
    await uow.participants.try_add(person)
    ctx = caller(at_site(Role.COORDINATOR, site))
    await contacts.set_contact(
        uow=uow,
        ctx=ctx,
        participant_id=person.id,
        full_name=FULL.full_name,
        email=FULL.email,
        phone=FULL.phone,
        date_of_birth=FULL.date_of_birth,
        address=FULL.address,
    )
    return uow, ctx, person.id


def _full(person: ParticipantId, version: int, **changed: str | None) -> ContactDetails:
    return dataclasses.replace(FULL, id=person, version=version, **changed)  # type: ignore[arg-type]


async def test_fields_left_out_of_a_contact_update_stay() -> None:
    uow, ctx, person = await _with_contact()
    moved = await contacts.set_contact(
        uow=uow, ctx=ctx, participant_id=person, address="Drottninggatan 9"
    )
    assert moved == _full(person, 2, address="Drottninggatan 9")
    assert [f.field for f in uow.events[-1].fields] == ["address"]


async def test_emptying_a_contact_field_needs_a_reason() -> None:
    uow, ctx, person = await _with_contact()
    for empty in (None, " "):
        with pytest.raises(DomainError) as raised:
            await contacts.set_contact(uow=uow, ctx=ctx, participant_id=person, phone=empty)
        assert (raised.value.code, raised.value.field) == (ErrorCode.REASON_REQUIRED, "reason")
    assert await uow.contacts.get(person) == _full(person, 1)
    why = "No landline any more"
    cleared = await contacts.set_contact(
        uow=uow, ctx=ctx, participant_id=person, phone=None, reason=why
    )
    assert cleared == _full(person, 2, phone=None)
    assert uow.events[-1].reason == why
