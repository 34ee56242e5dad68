"""Retention, closure and purge rules, on in-memory fakes (time only from the fake's clock)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, date, datetime

import pytest

from domain import retention
from domain.actors import ANONYMOUS, RequestContext, Role
from domain.contacts import ContactDetails
from domain.errors import DomainError, ErrorCode
from domain.participants import ParticipantStatus
from domain.services import participants as participant_cases
from domain.services import retention as cases
from domain.services import studies as study_cases
from domain.studies import OpenWork, RetentionEvent, Study, StudyStatus
from tests.factories import admin, at_site, caller, make_participant, make_site, make_study, staff
from tests.fakes import FakeUnitOfWork

MINIMUM = 25
ADMIN = caller(admin())
# The fakes' clock starts on 2026-03-29 00:30 UTC; these are whole days from then.
YEARS_25 = (date(2051, 3, 29) - date(2026, 3, 29)).days
YEARS_30 = (date(2056, 3, 29) - date(2026, 3, 29)).days


async def _study(uow: FakeUnitOfWork, *statuses: ParticipantStatus) -> Study:
    """A study with a site and a participant of each status, each with contact details."""
    study = make_study()
    site = make_site(study)
    await uow.studies.add(study)
    await uow.sites.add(site)
    for status in statuses:
        person = make_participant(site, status=status)
        await uow.participants.try_add(person)
        uow.contacts.rows[person.id] = ContactDetails(id=person.id, full_name="A Name", version=1)
    return study


async def _closed(uow: FakeUnitOfWork, *statuses: ParticipantStatus) -> Study:
    study = await _study(uow, *statuses)
    return await cases.close_study(uow=uow, ctx=ADMIN, study_id=study.id, reason="Trial ended")


async def _purge(uow: FakeUnitOfWork, study: Study) -> cases.Purge:
    return await cases.purge_study(
        uow=uow, ctx=ADMIN, study_id=study.id, reason="Retention over", minimum_years=MINIMUM
    )


async def _refused(code: ErrorCode, action: Awaitable[object]) -> DomainError:
    with pytest.raises(DomainError) as raised:
        await action
    assert raised.value.code is code, raised.value.message
    return raised.value


class TestRetentionPeriod:
    def test_a_period_is_calendar_years_and_never_shorter(self) -> None:
        closed = datetime(2026, 6, 10, 9, 30, tzinfo=UTC)
        assert retention.add_years(closed, 25) == datetime(2051, 6, 10, 9, 30, tzinfo=UTC)
        leap = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
        assert retention.add_years(leap, 25) == datetime(2053, 3, 1, 12, 0, tzinfo=UTC)
        assert retention.add_years(leap, 4) == datetime(2032, 2, 29, 12, 0, tzinfo=UTC)

    def test_the_installation_minimum_holds_even_if_raised_later(self) -> None:
        study = make_study()
        assert retention.terms(study, 25).years == 25  # nothing set: the minimum
        longer = study.with_retention(30, RetentionEvent.STUDY_CLOSURE)
        assert (retention.terms(longer, 25).years, retention.terms(longer, 40).years) == (30, 40)
        assert retention.terms(longer, 25).ends_at is None  # runs only once closed

    @pytest.mark.parametrize(
        ("years", "code"),
        [(24, "RETENTION_BELOW_MINIMUM"), (0, "VALIDATION_FAILED"), (101, "VALIDATION_FAILED")],
    )
    def test_retention_below_the_minimum_or_out_of_range_is_refused(
        self, years: int, code: str
    ) -> None:
        with pytest.raises(DomainError) as raised:
            retention.validated_years(years, MINIMUM)
        assert (raised.value.code, raised.value.field) == (ErrorCode(code), "years")


class TestSettingRetention:
    async def test_an_admin_sets_it_with_a_reason_and_it_is_audited(self) -> None:
        uow = FakeUnitOfWork()
        study = await _study(uow)
        changed = await cases.set_retention(
            uow=uow,
            ctx=ADMIN,
            study_id=study.id,
            years=30,
            reason="Sponsor SOP asks 30 years",
            minimum_years=MINIMUM,
        )
        assert uow.studies.rows[study.id].retention_years == 30 == changed.retention_years
        (event,) = uow.events
        assert (event.entity_type, event.action, event.reason) == (
            "Study",
            "retention_set",
            "Sponsor SOP asks 30 years",
        )
        assert [(f.field, f.old, f.new) for f in event.fields] == [("retention_years", None, 30)]
        again = await cases.set_retention(
            uow=uow, ctx=ADMIN, study_id=study.id, years=30, reason="same", minimum_years=MINIMUM
        )
        assert again == changed
        assert len(uow.events) == 1  # nothing changed, nothing logged

    async def test_below_the_minimum_without_a_reason_or_by_others_changes_nothing(self) -> None:
        uow = FakeUnitOfWork()
        study = await _study(uow)
        site = next(iter(uow.sites.rows.values()))

        def attempt(
            years: int, reason: str | None = "why", ctx: RequestContext = ADMIN
        ) -> Awaitable[Study]:
            return cases.set_retention(
                uow=uow,
                ctx=ctx,
                study_id=study.id,
                years=years,
                reason=reason,
                minimum_years=MINIMUM,
            )

        refused = await _refused(ErrorCode.RETENTION_BELOW_MINIMUM, attempt(10))
        assert "25 years" in refused.message
        await _refused(ErrorCode.REASON_REQUIRED, attempt(30, reason="  "))
        await _refused(
            ErrorCode.FORBIDDEN, attempt(30, ctx=caller(staff(Role.DATA_MANAGER, study.id)))
        )
        await _refused(
            ErrorCode.FORBIDDEN, attempt(30, ctx=caller(at_site(Role.COORDINATOR, site)))
        )
        await _refused(ErrorCode.UNAUTHENTICATED, attempt(30, ctx=caller(ANONYMOUS)))
        assert uow.studies.rows[study.id] == study
        assert uow.events == []


class TestClosing:
    async def test_a_study_closes_only_once_every_participant_and_visit_is_settled(self) -> None:
        uow = FakeUnitOfWork()
        study = await _study(uow, ParticipantStatus.COMPLETED, ParticipantStatus.ENROLLED)
        refused = await _refused(
            ErrorCode.STUDY_STILL_ACTIVE,
            cases.close_study(uow=uow, ctx=ADMIN, study_id=study.id, reason="Trial ended"),
        )
        assert "1 participants" in refused.message
        assert uow.studies.rows[study.id].status is StudyStatus.OPEN
        with pytest.raises(DomainError) as raised:
            OpenWork(active_participants=0, scheduled_visits=2).require_none()
        assert "2 visits" in raised.value.message

    async def test_closing_is_audited_final_and_stops_new_data(self) -> None:
        uow = FakeUnitOfWork()
        study = await _closed(uow, ParticipantStatus.COMPLETED, ParticipantStatus.WITHDRAWN)
        assert study.status is StudyStatus.CLOSED
        assert study.closed_at == uow.clock.now()
        (event,) = uow.events
        assert (event.action, event.reason, event.fields[0].field) == (
            "closed",
            "Trial ended",
            "closed_at",
        )
        await _refused(
            ErrorCode.STUDY_CLOSED,
            cases.close_study(uow=uow, ctx=ADMIN, study_id=study.id, reason="again"),
        )
        site = next(iter(uow.sites.rows.values()))
        await _refused(
            ErrorCode.STUDY_CLOSED,
            participant_cases.register_participant(
                uow=uow,
                ctx=caller(at_site(Role.COORDINATOR, site)),
                site_id=site.id,
                screening_number="S-9",
            ),
        )
        await _refused(
            ErrorCode.STUDY_CLOSED,
            study_cases.create_site(
                uow=uow,
                ctx=ADMIN,
                study_id=study.id,
                code="LATE",
                name="Late",
                country="DE",
                timezone="Europe/Berlin",
            ),
        )
        assert len(uow.participants.rows) == 2
        assert len(uow.events) == 1

    async def test_closing_needs_an_admin_and_a_reason(self) -> None:
        uow = FakeUnitOfWork()
        study = await _study(uow)
        ctx = caller(staff(Role.DATA_MANAGER, study.id))
        for who, reason, code in ((ADMIN, "", "REASON_REQUIRED"), (ctx, "Ended", "FORBIDDEN")):
            await _refused(
                ErrorCode(code),
                cases.close_study(uow=uow, ctx=who, study_id=study.id, reason=reason),
            )
        assert uow.studies.rows[study.id].closed_at is None


class TestPurging:
    async def test_refused_while_the_study_is_open(self) -> None:
        uow = FakeUnitOfWork()
        study = await _study(uow, ParticipantStatus.COMPLETED)
        uow.clock.advance(days=YEARS_30)
        await _refused(ErrorCode.STUDY_NOT_CLOSED, _purge(uow, study))
        assert uow.keys.destroyed == set()

    async def test_refused_before_the_end_naming_the_date(self) -> None:
        uow = FakeUnitOfWork()
        study = await _closed(uow, ParticipantStatus.COMPLETED)
        uow.clock.advance(days=YEARS_25, seconds=-1)  # one second before it ends
        refused = await _refused(ErrorCode.RETENTION_NOT_ELAPSED, _purge(uow, study))
        assert "2051-03-29 00:30 UTC" in refused.message
        assert "25 years" in refused.message
        assert uow.keys.destroyed == set()
        assert all(p.erased_at is None for p in uow.participants.rows.values())

    async def test_allowed_exactly_at_the_end_and_shreds_every_participant(self) -> None:
        uow = FakeUnitOfWork()
        study = await _closed(uow, ParticipantStatus.COMPLETED, ParticipantStatus.WITHDRAWN)
        uow.clock.advance(days=YEARS_25)  # the very instant the period ends
        done = await _purge(uow, study)
        people = list(uow.participants.rows.values())
        assert (done.participants, done.shredded) == (2, 2)
        assert done.study.status is StudyStatus.PURGED
        assert uow.keys.destroyed == {p.id for p in people}
        assert uow.contacts.rows == {}
        assert all(p.erased_at == uow.clock.now() and p.screening_number is None for p in people)
        erasures = [e for e in uow.events if e.action == "erased"]
        assert {e.entity_id for e in erasures} == {p.id for p in people}
        assert all(e.reason == "Retention over" and e.public_reason for e in erasures)
        purge = uow.events[-1]
        assert (purge.entity_type, purge.action, purge.reason) == (
            "Study",
            "purged",
            "Retention over",
        )

    async def test_allowed_after_the_end_and_idempotent(self) -> None:
        uow = FakeUnitOfWork()
        study = await _closed(uow, ParticipantStatus.COMPLETED)
        uow.clock.advance(days=YEARS_30)
        first = await _purge(uow, study)
        logged = len(uow.events)
        uow.clock.advance(days=1)
        again = await _purge(uow, study)
        assert (again.participants, again.shredded) == (1, 0)
        assert again.study.purged_at == first.study.purged_at
        assert len(uow.events) == logged  # a repeat that found nothing logs nothing
        await _refused(
            ErrorCode.INVALID_TRANSITION,
            cases.set_retention(
                uow=uow, ctx=ADMIN, study_id=study.id, years=40, reason="x", minimum_years=MINIMUM
            ),
        )

    async def test_a_longer_study_retention_or_a_raised_minimum_is_waited_for(self) -> None:
        uow = FakeUnitOfWork()
        study = await _study(uow, ParticipantStatus.COMPLETED)
        await cases.set_retention(
            uow=uow, ctx=ADMIN, study_id=study.id, years=30, reason="SOP", minimum_years=MINIMUM
        )
        await cases.close_study(uow=uow, ctx=ADMIN, study_id=study.id, reason="Ended")
        uow.clock.advance(days=YEARS_25)
        refused = await _refused(ErrorCode.RETENTION_NOT_ELAPSED, _purge(uow, study))
        assert "2056-03-29" in refused.message
        uow.clock.advance(days=YEARS_30 - YEARS_25)
        raised = cases.purge_study(
            uow=uow, ctx=ADMIN, study_id=study.id, reason="Over", minimum_years=40
        )
        await _refused(ErrorCode.RETENTION_NOT_ELAPSED, raised)
        assert (await _purge(uow, study)).shredded == 1

    async def test_a_participant_erased_before_is_not_erased_again(self) -> None:
        uow = FakeUnitOfWork()
        study = await _closed(uow, ParticipantStatus.COMPLETED, ParticipantStatus.COMPLETED)
        first, second = uow.participants.rows.values()
        uow.participants.rows[first.id] = first.erased(uow.clock.now())
        uow.keys.destroyed.add(first.id)
        uow.clock.advance(days=YEARS_25)
        done = await _purge(uow, study)
        assert (done.participants, done.shredded) == (2, 1)
        assert [e.entity_id for e in uow.events if e.action == "erased"] == [second.id]
        assert uow.participants.rows[first.id].version == first.version + 1  # untouched since

    async def test_only_admins_purge(self) -> None:
        uow = FakeUnitOfWork()
        study = await _closed(uow, ParticipantStatus.COMPLETED)
        site = next(iter(uow.sites.rows.values()))
        uow.clock.advance(days=YEARS_30)
        for actor, code in (
            (staff(Role.DATA_MANAGER, study.id), ErrorCode.FORBIDDEN),
            (at_site(Role.INVESTIGATOR, site), ErrorCode.FORBIDDEN),
            (staff(Role.MONITOR, study.id, site.id), ErrorCode.FORBIDDEN),
            (staff(Role.DATA_MANAGER, make_study().id), ErrorCode.NOT_FOUND),
        ):
            purge = cases.purge_study(
                uow=uow, ctx=caller(actor), study_id=study.id, reason="x", minimum_years=MINIMUM
            )
            await _refused(code, purge)
        assert uow.keys.destroyed == set()
