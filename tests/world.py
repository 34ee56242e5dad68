"""A small, realistic trial built through the use cases, for tests that need committed data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import TypedDict

from domain.actors import Actor, ActorKind, Grant, Role
from domain.consent import ConsentText
from domain.contacts import ContactDetails
from domain.diaries import LatePolicy, Submission
from domain.participants import Participant, ParticipantStatus
from domain.ports import UnitOfWorkFactory
from domain.questionnaires import Item, ItemType, QuestionnaireDraft
from domain.readings import ReadingKind
from domain.schedules import Recurrence
from domain.services import (
    consent,
    contacts,
    design,
    devices,
    diaries,
    participants,
    questionnaires,
    readings,
    studies,
)
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


DIARY_TEXT = "Ingrid from next door drove me to the Charite oncology ward"
PROXY_REASON = "Read out by her daughter Henrietta over the phone"
CORRECTION_REASON = "Henrietta said she misread the scale"
DELETE_REASON = "Watch was worn by her grandson Maximilian"


@dataclass
class DiaryWorld:
    entry_id: uuid.UUID
    reading_id: uuid.UUID


async def add_diary(uow: UnitOfWorkFactory, world: World) -> DiaryWorld:
    """The first participant consents, joins an arm, writes a diary with free text (and her
    site enters one for her), wears a watch; staff correct and delete with reasons that name
    people. The diary is hourly, so at the pinned "now" one occurrence is open."""
    boss = caller(admin())
    person = world.people[0]
    me = caller(
        Actor(
            ActorKind.PARTICIPANT,
            person.id,
            (Grant(Role.PARTICIPANT, world.study.id, world.site.id),),
        )
    )
    staff = caller(world.coordinator)
    arm = await design.create_arm(uow=uow(), ctx=boss, study_id=world.study.id, code="A", name="A")
    version = await consent.publish_version(
        uow=uow(), ctx=boss, study_id=world.study.id, texts=(ConsentText("en", "C", "Body"),)
    )
    await consent.sign(
        uow=uow(), ctx=me, consent_version_id=version.id, language="en", name=PEOPLE[0]["full_name"]
    )
    await participants.enrol_in_arm(uow=uow(), ctx=staff, participant_id=person.id, arm_id=arm.id)
    draft = QuestionnaireDraft(
        code="SYMPTOMS",
        title={"en": "Symptoms"},
        languages=("en",),
        items=(
            Item("SEVERITY", ItemType.INTEGER, {"en": "How bad?"}, minimum=0, maximum=10),
            Item("NOTE", ItemType.FREE_TEXT, {"en": "Tell us more"}, required=False),
        ),
    )
    published = await questionnaires.publish_version(
        uow=uow(), ctx=boss, study_id=world.study.id, draft=draft
    )
    await diaries.create_schedule(
        uow=uow(),
        ctx=boss,
        study_id=world.study.id,
        questionnaire_code="SYMPTOMS",
        arm_id=None,
        recurrence=Recurrence(times=tuple(time(h) for h in range(24)), window=timedelta(hours=1)),
        late_policy=LatePolicy.ACCEPT_LATE,
        late_grace=timedelta(hours=1),
    )
    now = uow().clock.now()
    due = await diaries.due(
        uow=uow(),
        ctx=me,
        participant_id=person.id,
        start=now - timedelta(hours=2),
        end=now + timedelta(hours=1),
    )
    # The latest occurrence already due: the open one, or the one before it (late).
    current, previous = (
        [d for d in due if d.occurrence.due_at <= now][-1],
        [d for d in due if d.occurrence.due_at <= now][-2],
    )
    q = published.definition

    def entry(d: diaries.Due, answers: dict[str, object]) -> Submission:
        return Submission(
            client_id=uuid.uuid4(),
            schedule_id=d.schedule.id,
            occurrence_key=d.occurrence.key,
            questionnaire_code=q.code,
            questionnaire_version=q.version,
            content_hash=q.content_hash,
            answers=answers,
            completed_at=now,
        )

    (mine,) = await diaries.submit(
        uow=uow(), ctx=me, submissions=[entry(current, {"SEVERITY": 6, "NOTE": DIARY_TEXT})]
    )
    await diaries.submit(
        uow=uow(),
        ctx=staff,
        submissions=[entry(previous, {"SEVERITY": 2})],
        participant_id=person.id,
        proxy_reason=PROXY_REASON,
    )
    await diaries.correct_entry(
        uow=uow(),
        ctx=staff,
        entry_id=mine.client_id,
        changes={"SEVERITY": 5},
        reason=CORRECTION_REASON,
    )
    watch = await devices.register(
        uow=uow(),
        ctx=staff,
        site_id=world.site.id,
        kinds=(ReadingKind.HEART_RATE,),
        model="Watch",
        serial=f"W-{uuid.uuid4().hex[:8]}",
    )
    await devices.assign(uow=uow(), ctx=staff, device_id=watch.id, participant_id=person.id)
    done = await readings.ingest(
        uow=uow(),
        ctx=me,
        items=[
            {
                "deviceId": str(watch.id),
                "kind": "HEART_RATE",
                "sourceId": "hr-1",
                "body": {
                    "heart_rate": {"value": 64, "unit": "beats/min"},
                    "effective_time_frame": {"date_time": now.isoformat()},
                },
            }
        ],
    )
    reading_id = done.items[0].reading_id
    assert reading_id is not None, done
    await readings.delete(uow=uow(), ctx=staff, reading_id=reading_id, reason=DELETE_REASON)
    return DiaryWorld(entry_id=mine.client_id, reading_id=reading_id)
