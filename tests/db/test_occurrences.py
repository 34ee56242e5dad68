"""Stored diary plans on real PostgreSQL: what requests read equals the pure planner, the
first read plans once (concurrent ones too, without a duplicate row), a request past the
horizon extends the plan, and the real worker task replans after a schedule, time-zone or
arm-dependent change."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.consent import ConsentText
from domain.diaries import DiarySchedule, LatePolicy
from domain.ids import ArmId, StudyId
from domain.occurrences import REPLAN, REPLAN_STUDY, PlanInputs
from domain.participants import Participant
from domain.questionnaires import Item, ItemType, QuestionnaireDraft
from domain.schedules import Occurrence, Recurrence
from domain.services import consent, design, diaries, participants, questionnaires, studies
from domain.services import occurrences as plans
from infra.db.uow import SqlUnitOfWorkFactory
from infra.worker.app import build_app
from infra.worker.registry import MAINTENANCE
from infra.worker.services import WorkerServices
from tests.clock import CLOCK
from tests.conftest import Scratch
from tests.factories import admin, caller

HORIZON = timedelta(days=28)


@dataclass
class Trial:
    uow: SqlUnitOfWorkFactory
    study_id: StudyId
    arms: dict[str, ArmId]
    people: dict[str, Participant]
    staff: RequestContext

    def me(self, name: str) -> RequestContext:
        p = self.people[name]
        return caller(
            Actor(ActorKind.PARTICIPANT, p.id, (Grant(Role.PARTICIPANT, p.study_id, p.site_id),))
        )

    async def schedule(self, *times: time, arm: str | None = None) -> DiarySchedule:
        return await diaries.create_schedule(
            uow=self.uow(),
            ctx=caller(admin()),
            study_id=self.study_id,
            questionnaire_code="PAIN",
            arm_id=self.arms[arm] if arm else None,
            recurrence=Recurrence(times=times, window=timedelta(hours=2)),
            late_policy=LatePolicy.REJECT,
            late_grace=timedelta(0),
        )

    async def due(self, name: str, start: datetime, end: datetime) -> list[tuple[Any, Occurrence]]:
        found = await diaries.due(
            uow=self.uow(),
            ctx=self.me(name),
            participant_id=self.people[name].id,
            start=start,
            end=end,
        )
        return [(d.schedule.id, d.occurrence) for d in found]

    async def pure(self, name: str, start: datetime, end: datetime) -> list[tuple[Any, Occurrence]]:
        """What the planner itself says for the participant's current inputs."""
        found = await self.inputs(name)
        assert found is not None
        return [(s.id, o) for s, o in found.ordered(found.plan(start, end))]

    async def inputs(self, name: str) -> PlanInputs | None:
        async with self.uow() as uow:
            person = await uow.participants.get(self.people[name].id)
            assert person is not None
            return await plans.inputs(uow, person)


async def _trial(uow: SqlUnitOfWorkFactory, *names: str, times: tuple[time, ...] = ()) -> Trial:
    boss = caller(admin())
    study = await studies.create_study(
        uow=uow(), ctx=boss, code=f"OC-{uuid.uuid4().hex[:6]}", title="Plans"
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
    staff = caller(
        Actor(ActorKind.STAFF, uuid.uuid4(), (Grant(Role.COORDINATOR, study.id, site.id),))
    )
    arms = {
        code: (
            await design.create_arm(uow=uow(), ctx=boss, study_id=study.id, code=code, name=code)
        ).id
        for code in ("A", "B")
    }
    version = await consent.publish_version(
        uow=uow(), ctx=boss, study_id=study.id, texts=(ConsentText("en", "C", "Body"),)
    )
    await questionnaires.publish_version(
        uow=uow(),
        ctx=boss,
        study_id=study.id,
        draft=QuestionnaireDraft(
            code="PAIN",
            title={"en": "Pain"},
            languages=("en",),
            items=(Item("PAIN", ItemType.INTEGER, {"en": "How bad?"}, minimum=0, maximum=10),),
        ),
    )
    trial = Trial(uow, study.id, arms, {}, staff)
    if times:
        await trial.schedule(*times)
    for n, name in enumerate(names):
        person = await participants.register_participant(
            uow=uow(), ctx=staff, site_id=site.id, screening_number=f"S-{n}"
        )
        trial.people[name] = person
        await consent.sign(
            uow=uow(), ctx=trial.me(name), consent_version_id=version.id, language="en", name=name
        )
        arm = arms["B" if name.startswith("b") else "A"]
        trial.people[name] = await participants.enrol_in_arm(
            uow=uow(), ctx=staff, participant_id=person.id, arm_id=arm
        )
    return trial


def _sql(scratch: Scratch) -> SqlUnitOfWorkFactory:
    found = scratch.runtime.services.uow
    assert isinstance(found, SqlUnitOfWorkFactory)
    return found


async def _rows(uow: SqlUnitOfWorkFactory, sql: str, **params: Any) -> list[Any]:
    async with uow() as unit:
        return list(await unit.session.execute(text(sql), params))


async def _plans(uow: SqlUnitOfWorkFactory, person: Participant) -> list[tuple[str, int]]:
    """(basis, occurrences stored) per plan of the participant."""
    found = await _rows(
        uow,
        "SELECT p.basis, count(o.occurrence_key) AS n FROM diary_plans p LEFT JOIN "
        "diary_occurrences o USING (participant_id, basis) WHERE p.participant_id = :p "
        "GROUP BY p.basis ORDER BY p.basis",
        p=person.id,
    )
    return [(r.basis, r.n) for r in found]


async def _run_worker(scratch: Scratch, tmp_path: Path) -> list[tuple[str, str]]:
    """Every waiting job, run by a real procrastinate worker that stops once the queue is
    empty; returns (task, status) of the planning jobs."""
    services = WorkerServices(
        uows=scratch.runtime.services.uow,
        exports=scratch.runtime.export_engine,
        export_root=tmp_path / "exports",
        export_retention=timedelta(days=30),
    )
    app = build_app(scratch.owner_url, services, pool_size=2)
    async with app.open_async():
        await app.run_worker_async(
            queues=[MAINTENANCE], wait=False, install_signal_handlers=False, concurrency=1
        )
    found = await _rows(
        _sql(scratch),
        "SELECT task_name, status FROM procrastinate_jobs WHERE task_name IN (:a, :b) ORDER BY id",
        a=REPLAN,
        b=REPLAN_STUDY,
    )
    return [(r.task_name, r.status) for r in found]


async def test_what_is_due_is_read_from_a_plan_equal_to_the_planner(
    uow: SqlUnitOfWorkFactory,
) -> None:
    trial = await _trial(uow, "anna")
    await trial.schedule(time(9), time(21))
    await trial.schedule(time(9), time(13))  # two schedules due at the same instant
    now = CLOCK.now()
    for start, end in [
        (now, now + timedelta(days=2)),
        (now - timedelta(days=3), now + timedelta(days=1)),
        (now + timedelta(days=20), now + timedelta(days=27)),
    ]:
        assert await trial.due("anna", start, end) == await trial.pure("anna", start, end)
    ((basis, stored),) = await _plans(uow, trial.people["anna"])
    inputs = await trial.inputs("anna")
    assert inputs is not None
    assert basis == inputs.basis()
    until = now + HORIZON
    assert stored == len(inputs.plan(inputs.origin, until))
    # A second read finds the plan: nothing is planned or stored again.
    assert await trial.due("anna", now, now + timedelta(days=2)) == await trial.pure(
        "anna", now, now + timedelta(days=2)
    )
    assert await _plans(uow, trial.people["anna"]) == [(basis, stored)]


async def test_a_request_past_the_horizon_extends_the_plan_once(uow: SqlUnitOfWorkFactory) -> None:
    trial = await _trial(uow, "anna")
    await trial.schedule(time(8), time(20))
    now = CLOCK.now()
    await trial.due("anna", now, now + timedelta(days=1))
    ((basis, before),) = await _plans(uow, trial.people["anna"])
    (until,) = await _rows(uow, "SELECT planned_until FROM diary_plans WHERE basis = :b", b=basis)
    assert until.planned_until == now + HORIZON
    CLOCK.advance(days=40)  # the horizon has run out
    later = CLOCK.now()
    window = (later - timedelta(days=1), later + timedelta(days=2))
    assert await trial.due("anna", *window) == await trial.pure("anna", *window)
    ((same, after),) = await _plans(uow, trial.people["anna"])
    (until,) = await _rows(uow, "SELECT planned_until FROM diary_plans WHERE basis = :b", b=basis)
    assert same == basis
    assert until.planned_until == later + HORIZON
    inputs = await trial.inputs("anna")
    assert inputs is not None
    assert after == len(inputs.plan(inputs.origin, later + HORIZON)) == before + 2 * 40
    # Far past the horizon a request is answered by the planner and nothing is stored.
    far = (later + timedelta(days=200), later + timedelta(days=202))
    assert await trial.due("anna", *far) == await trial.pure("anna", *far)
    assert await _plans(uow, trial.people["anna"]) == [(basis, after)]


async def test_concurrent_first_reads_store_each_occurrence_once(
    committing_uow: SqlUnitOfWorkFactory,
) -> None:
    trial = await _trial(committing_uow, "anna")
    await trial.schedule(*(time(h) for h in range(0, 24, 3)))
    now = CLOCK.now()
    window = (now, now + timedelta(days=2))
    results = await asyncio.gather(*(trial.due("anna", *window) for _ in range(8)))
    expected = await trial.pure("anna", *window)
    assert len(expected) == 16
    assert all(r == expected for r in results)
    inputs = await trial.inputs("anna")
    assert inputs is not None
    (counts,) = await _rows(
        committing_uow,
        "SELECT count(*) AS n, count(DISTINCT (schedule_id, occurrence_key)) AS keys "
        "FROM diary_occurrences WHERE participant_id = :p",
        p=trial.people["anna"].id,
    )
    assert counts.n == counts.keys == len(inputs.plan(inputs.origin, now + HORIZON))


async def test_the_worker_replans_after_a_schedule_is_added(
    scratch: Scratch, tmp_path: Path
) -> None:
    uow = _sql(scratch)
    trial = await _trial(uow, "anna", "ben")
    assert await _run_worker(scratch, tmp_path) == [(REPLAN, "succeeded")] * 2  # enrolments
    first = await trial.schedule(time(9))
    now = CLOCK.now()
    await trial.due("anna", now, now + timedelta(days=1))
    await trial.due("ben", now, now + timedelta(days=1))
    old = {name: await _plans(uow, trial.people[name]) for name in ("anna", "ben")}
    await trial.schedule(time(18), arm="B")  # for arm B only
    jobs = await _run_worker(scratch, tmp_path)
    assert jobs[-1] == (REPLAN_STUDY, "succeeded")
    # Anna (arm A) plans as before; Ben's plan now holds both schedules, and nothing else.
    assert await _plans(uow, trial.people["anna"]) == old["anna"]
    ((basis, stored),) = await _plans(uow, trial.people["ben"])
    assert (basis, stored) != old["ben"][0]
    inputs = await trial.inputs("ben")
    assert inputs is not None
    assert basis == inputs.basis()
    assert [s.id for s in inputs.schedules] == [first.id, inputs.schedules[1].id]
    assert stored == len(inputs.plan(inputs.origin, now + HORIZON))
    window = (now, now + timedelta(days=3))
    assert await trial.due("ben", *window) == await trial.pure("ben", *window)
    assert await _plans(uow, trial.people["ben"]) == [(basis, stored)]  # read, not replanned


async def test_the_worker_replans_after_a_time_zone_change(
    scratch: Scratch, tmp_path: Path
) -> None:
    uow = _sql(scratch)
    trial = await _trial(uow, "anna")
    await trial.schedule(time(9), time(21))
    await _run_worker(scratch, tmp_path)
    now = CLOCK.now()
    before = await trial.due("anna", now, now + timedelta(days=2))
    ((old, _),) = await _plans(uow, trial.people["anna"])
    await participants.report_timezone(uow=uow(), ctx=trial.me("anna"), timezone="America/New_York")
    # Until the worker has run, a request plans the new basis itself: never a stale answer.
    CLOCK.advance(minutes=5)
    later = CLOCK.now()
    window = (later, later + timedelta(days=2))
    moved = await trial.due("anna", *window)
    assert moved == await trial.pure("anna", *window)
    assert moved != before
    assert {o.timezone for _, o in moved} == {"America/New_York"}
    assert [b for b, _ in await _plans(uow, trial.people["anna"])] == sorted(
        [old, (await _inputs_basis(trial, "anna"))]
    )
    assert await _run_worker(scratch, tmp_path) == [(REPLAN, "succeeded")] * 2
    ((basis, _stored),) = await _plans(uow, trial.people["anna"])  # the old plan is gone
    assert basis == await _inputs_basis(trial, "anna") != old
    assert await trial.due("anna", *window) == moved


async def test_an_enrolment_has_the_worker_plan_before_the_first_request(
    scratch: Scratch, tmp_path: Path
) -> None:
    uow = _sql(scratch)
    trial = await _trial(uow, "anna", "bea", times=(time(9), time(21)))
    await trial.schedule(time(12), arm="B")
    assert [b for b, _ in await _plans(uow, trial.people["anna"])] == []
    assert await _run_worker(scratch, tmp_path) == [(REPLAN, "succeeded")] * 2
    now = CLOCK.now()
    for name, per_day in (("anna", 2), ("bea", 3)):  # Bea's arm has one schedule more
        ((basis, stored),) = await _plans(uow, trial.people[name])
        assert basis == await _inputs_basis(trial, name)
        inputs = await trial.inputs(name)
        assert inputs is not None
        assert stored == len(inputs.plan(inputs.origin, now + HORIZON))
        window = (now, now + timedelta(days=2))
        found = await trial.due(name, *window)
        assert found == await trial.pure(name, *window)
        assert len(found) == 2 * per_day
        assert await _plans(uow, trial.people[name]) == [(basis, stored)]


async def _inputs_basis(trial: Trial, name: str) -> str:
    found = await trial.inputs(name)
    assert found is not None
    return found.basis()
