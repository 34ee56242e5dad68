"""Visit rules on fakes: when a visit may start, and who it is assigned to."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, timedelta

import pytest

from domain.actors import Grant, RequestContext, Role
from domain.design import ContactMode, VisitDefinition
from domain.errors import DomainError, ErrorCode
from domain.ids import UserId
from domain.participants import Participant
from domain.services import visits as cases
from domain.studies import Site
from domain.users import StaffUser
from domain.visits import Visit
from tests.factories import NOW, at_site, caller, make_participant, make_site
from tests.fakes import FakeUnitOfWork

# The fakes' clock starts at NOW (2026-03-29 00:30 UTC); the participant was registered then.
ENROLLED_ON = date(2026, 4, 1)
LATER = datetime(2026, 5, 4, 9, 0)  # a wall time well after enrolment


@dataclasses.dataclass
class Setting:
    uow: FakeUnitOfWork
    site: Site
    person: Participant
    ctx: RequestContext
    screening: VisitDefinition
    baseline: VisitDefinition
    week: VisitDefinition

    async def schedule(
        self, definition: VisitDefinition, local: datetime, **extra: object
    ) -> Visit:
        return await cases.schedule(
            uow=self.uow,
            ctx=self.ctx,
            participant_id=self.person.id,
            definition_id=definition.id,
            mode=ContactMode.VIDEO,
            local_start=local,
            **extra,  # type: ignore[arg-type]
        )

    async def enrol(self) -> None:
        self.person = dataclasses.replace(self.person, enrolled_on=ENROLLED_ON)
        self.uow.participants.rows[self.person.id] = self.person

    async def staff(self, role: Role, site: Site | None = None) -> UserId:
        where = site or self.site
        user = StaffUser.new(
            email=f"{uuid.uuid4().hex[:8]}@example.org",
            name="Staff Member",
            grants=(Grant(role, where.study_id, where.id),),
            now=NOW,
        )
        await self.uow.users.add(user, "hash")
        return user.id


def _definition(site: Site, code: str, day: int) -> VisitDefinition:
    return VisitDefinition.new(
        study_id=site.study_id,
        code=code,
        name=code,
        day=day,
        window_before=2,
        window_after=2,
        modes=(ContactMode.VIDEO,),
        now=NOW,
    )


@pytest.fixture
async def setting() -> Setting:
    uow = FakeUnitOfWork()
    site = make_site()
    await uow.sites.add(site)
    person = make_participant(site)
    await uow.participants.try_add(person)
    definitions = [_definition(site, c, d) for c, d in (("SCR", -14), ("BASE", 0), ("W1", 7))]
    for definition in definitions:
        await uow.design.add_visit_definition(definition)
    ctx = caller(at_site(Role.COORDINATOR, site))
    return Setting(uow, site, person, ctx, *definitions)


async def _refused(code: ErrorCode, setting: Setting, action: object) -> DomainError:
    events = len(setting.uow.events)
    with pytest.raises(DomainError) as raised:
        await action  # type: ignore[misc]
    assert raised.value.code is code, raised.value.message
    assert len(setting.uow.events) == events  # nothing was changed
    return raised.value


async def test_rescheduling_without_an_assignee_keeps_the_assignee(setting: Setting) -> None:
    await setting.enrol()
    nurse = await setting.staff(Role.INVESTIGATOR)
    visit = await setting.schedule(setting.week, LATER, assignee_id=nurse)
    moved = await cases.reschedule(
        uow=setting.uow,
        ctx=setting.ctx,
        visit_id=visit.id,
        local_start=LATER + timedelta(days=1),
        reason="Participant asked",
    )
    assert moved.assignee_id == nurse
    cleared = await cases.reschedule(
        uow=setting.uow,
        ctx=setting.ctx,
        visit_id=visit.id,
        local_start=LATER + timedelta(days=2),
        assignee_id=None,
        reason="Nurse on leave",
    )
    assert cleared.assignee_id is None
    assert "assignee_id" in [f.field for f in setting.uow.events[-1].fields]


async def test_visits_are_assigned_to_staff_of_the_participants_site(setting: Setting) -> None:
    await setting.enrol()
    monitor = await setting.staff(Role.MONITOR)
    elsewhere = await setting.staff(Role.COORDINATOR, make_site())
    for assignee in (monitor, elsewhere, UserId(uuid.uuid4())):
        error = await _refused(
            ErrorCode.VALIDATION_FAILED,
            setting,
            setting.schedule(setting.week, LATER, assignee_id=assignee),
        )
        assert error.field == "assignee_id"
    assert setting.uow.visits.rows == {}


async def test_a_visit_planned_after_enrolment_waits_for_the_enrolment(setting: Setting) -> None:
    error = await _refused(
        ErrorCode.PARTICIPANT_NOT_ENROLLED, setting, setting.schedule(setting.week, LATER)
    )
    assert error.field == "visit_definition_id"
    screening = await setting.schedule(setting.screening, datetime(2026, 3, 30, 9, 0))
    baseline = await setting.schedule(setting.baseline, datetime(2026, 3, 31, 9, 0))
    assert (screening.out_of_window, baseline.out_of_window) == (False, False)  # no window yet


async def test_no_visit_of_day_zero_or_later_before_the_enrolment_day(setting: Setting) -> None:
    await setting.enrol()
    day_before = datetime(2026, 3, 31, 9, 0)
    for definition in (setting.baseline, setting.week):
        error = await _refused(
            ErrorCode.VISIT_BEFORE_ENROLMENT, setting, setting.schedule(definition, day_before)
        )
        assert error.field == "local_start"
    screening = await setting.schedule(setting.screening, day_before)
    assert screening.out_of_window  # day -14 was two weeks earlier
    week = await setting.schedule(setting.week, LATER)
    await _refused(
        ErrorCode.VISIT_BEFORE_ENROLMENT,
        setting,
        cases.reschedule(
            uow=setting.uow,
            ctx=setting.ctx,
            visit_id=week.id,
            local_start=day_before,
            reason="typo",
        ),
    )


async def test_no_visit_before_the_participant_was_registered(setting: Setting) -> None:
    registered = setting.person.registered_at  # 00:30 UTC is 02:30 in Berlin
    await _refused(
        ErrorCode.VISIT_BEFORE_REGISTRATION,
        setting,
        setting.schedule(setting.screening, datetime(2026, 3, 29, 2, 0), reason="late entry"),
    )
    setting.uow.clock.advance(hours=2)
    visit = await setting.schedule(
        setting.screening, datetime(2026, 3, 29, 3, 0), reason="phone call, recorded late"
    )
    assert visit.starts_at > registered


async def test_a_visit_in_the_past_needs_a_reason(setting: Setting) -> None:
    setting.uow.clock.advance(days=3)  # now: 2026-04-01 00:30 UTC
    past = datetime(2026, 3, 31, 9, 0)
    error = await _refused(
        ErrorCode.REASON_REQUIRED, setting, setting.schedule(setting.baseline, past)
    )
    assert error.field == "reason"
    await _refused(
        ErrorCode.REASON_REQUIRED, setting, setting.schedule(setting.baseline, past, reason=" ")
    )
    visit = await setting.schedule(
        setting.baseline, past, reason="Held by phone; entered afterwards"
    )
    future = await setting.schedule(setting.baseline, datetime(2026, 4, 2, 9, 0))
    assert [e.reason for e in setting.uow.events[-2:]] == [
        "Held by phone; entered afterwards",
        None,
    ]
    assert visit.starts_at < future.starts_at
