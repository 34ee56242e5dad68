"""What the first participant's app of `tests/world.py` sends: diary answers and heartbeats.

Built on `build_world` + `add_diary` (consented, enrolled, an hourly diary); every function
takes the units of work, so it serves rolled-back and committing tests alike.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.diaries import Submission
from domain.ids import DeviceId
from domain.ports import UnitOfWorkFactory
from domain.readings import ReadingKind
from domain.services import devices, diaries
from tests.clock import PinnedClock
from tests.factories import caller
from tests.world import World


def app_of(world: World, index: int = 0) -> RequestContext:
    """The participant's app, signed in."""
    person = world.people[index]
    grant = Grant(Role.PARTICIPANT, world.study.id, world.site.id)
    return caller(Actor(ActorKind.PARTICIPANT, person.id, (grant,)))


async def give_watch(
    uow: UnitOfWorkFactory, world: World, clock: PinnedClock, days: int = 0
) -> DeviceId:
    """A heart-rate watch the site gave the first participant `days` ago."""
    staff = caller(world.coordinator)
    now = clock.now()
    clock.pin(now - timedelta(days=days))
    watch = await devices.register(
        uow=uow(),
        ctx=staff,
        site_id=world.site.id,
        kinds=(ReadingKind.HEART_RATE,),
        model="Watch",
        serial=f"W-{uuid.uuid4().hex[:8]}",
    )
    await devices.assign(
        uow=uow(), ctx=staff, device_id=watch.id, participant_id=world.people[0].id
    )
    clock.pin(now)
    return watch.id


def heartbeat(watch: DeviceId, at: datetime, beats: int = 70) -> dict[str, Any]:
    """One heart-rate reading as the app sends it, measured at `at` (with its offset)."""
    return {
        "deviceId": str(watch),
        "kind": "HEART_RATE",
        "sourceId": f"hr-{at.isoformat()}",
        "body": {
            "heart_rate": {"value": beats, "unit": "beats/min"},
            "effective_time_frame": {"date_time": at.isoformat()},
        },
    }


async def open_entry(uow: UnitOfWorkFactory, world: World, completed: datetime) -> Submission:
    """An answer (SEVERITY 3) to the hourly diary occurrence open at `completed`."""
    at = completed.astimezone(UTC)
    due = await diaries.due(
        uow=uow(),
        ctx=app_of(world),
        participant_id=world.people[0].id,
        start=at - timedelta(hours=2),
        end=at + timedelta(hours=1),
    )
    (current,) = [d for d in due if d.occurrence.due_at <= at < d.occurrence.closes_at]
    q = current.questionnaire
    return Submission(
        client_id=uuid.uuid4(),
        schedule_id=current.schedule.id,
        occurrence_key=current.occurrence.key,
        questionnaire_code=q.code,
        questionnaire_version=q.version,
        content_hash=q.content_hash,
        answers={"SEVERITY": 3},
        completed_at=completed,
    )
