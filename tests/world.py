"""A small, realistic trial built through the use cases, for tests that need committed data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import TypedDict

from domain.actors import Actor, ActorKind, Grant, Role
from domain.contacts import ContactDetails
from domain.participants import Participant, ParticipantStatus
from domain.ports import UnitOfWorkFactory
from domain.services import contacts, participants, studies
from domain.studies import Site, Study
from tests.factories import admin, caller


class Person(TypedDict):
    full_name: str
    email: str
    phone: str
    date_of_birth: date
    address: str


PEOPLE: list[Person] = [
    {
        "full_name": "Amelia Quartermaine",
        "email": "amelia.quartermaine@example.org",
        "phone": "+49 30 5550 1234",
        "date_of_birth": date(1961, 4, 17),
        "address": "Zwetschgenweg 12, 10115 Berlin",
    },
    {
        "full_name": "Bartholomew Okonkwo-Lindqvist",
        "email": "b.okonkwo@example.net",
        "phone": "+44 20 7946 0958",
        "date_of_birth": date(1948, 11, 2),
        "address": "7 Marigold Mews, London NW1",
    },
]
REASON = "Participant phoned: moved to Lichtenberg"


@dataclass
class World:
    study: Study
    site: Site
    coordinator: Actor
    people: list[Participant]
    contacts: list[ContactDetails]


async def build_world(uow: UnitOfWorkFactory, code: str | None = None) -> World:
    boss = caller(admin())
    study = await studies.create_study(
        uow=uow(), ctx=boss, code=code or f"W-{uuid.uuid4().hex[:6]}", title="World"
    )
    site = await studies.create_site(
        uow=uow(),
        ctx=boss,
        study_id=study.id,
        code="BER",
        name="Berlin",
        country="DE",
        timezone="Europe/Berlin",
    )
    coordinator = Actor(
        kind=ActorKind.STAFF, id=uuid.uuid4(), grants=(Grant(Role.COORDINATOR, study.id, site.id),)
    )
    ctx = caller(coordinator)
    people, details = [], []
    for n, person in enumerate(PEOPLE):
        participant = await participants.register_participant(
            uow=uow(), ctx=ctx, site_id=site.id, screening_number=f"SCR-{n:03}"
        )
        people.append(participant)
        details.append(
            await contacts.set_contact(uow=uow(), ctx=ctx, participant_id=participant.id, **person)
        )
    moved = await contacts.set_contact(
        uow=uow(),
        ctx=ctx,
        participant_id=people[0].id,
        expected_version=1,
        **(PEOPLE[0] | {"address": "Möllendorffstraße 3, 10367 Berlin"}),
    )
    details[0] = moved
    people[1] = await participants.change_status(
        uow=uow(),
        ctx=ctx,
        participant_id=people[1].id,
        status=ParticipantStatus.WITHDRAWN,
        reason=REASON,
    )
    return World(study=study, site=site, coordinator=coordinator, people=people, contacts=details)
