"""Participant rules and use cases, on in-memory fakes."""

from __future__ import annotations

import re

import pytest

from domain.actors import ANONYMOUS, Role
from domain.errors import DomainError, ErrorCode, NotFound, Unauthenticated
from domain.pagination import PageRequest
from domain.participants import ParticipantStatus, new_subject_id
from domain.services import participants as cases
from tests.factories import admin, at_site, caller, make_participant, make_site, make_study
from tests.fakes import FakeUnitOfWork


def test_subject_ids_are_random_and_readable() -> None:
    ids = {new_subject_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", i) for i in ids)


def test_lifecycle_moves_forward_and_withdrawal_ends_it() -> None:
    p = make_participant()
    p = p.move_to(ParticipantStatus.CONSENTED, p.registered_at)
    p = p.move_to(ParticipantStatus.ENROLLED, p.registered_at)
    assert p.version == 3
    with pytest.raises(DomainError) as raised:
        p.move_to(ParticipantStatus.SCREENED, p.registered_at)
    assert raised.value.code is ErrorCode.INVALID_TRANSITION
    withdrawn = p.move_to(ParticipantStatus.WITHDRAWN, p.registered_at)
    with pytest.raises(DomainError):
        withdrawn.move_to(ParticipantStatus.ENROLLED, p.registered_at)


async def test_coordinator_registers_a_participant_and_it_is_audited() -> None:
    uow = FakeUnitOfWork()
    study = make_study()
    await uow.studies.add(study)  # registration checks that the study is still open
    site = make_site(study)
    await uow.sites.add(site)
    participant = await cases.register_participant(
        uow=uow,
        ctx=caller(at_site(Role.COORDINATOR, site)),
        site_id=site.id,
        screening_number=" 001 ",
    )
    assert participant.screening_number == "001"
    assert participant.status is ParticipantStatus.SCREENED
    assert participant.timezone == site.timezone
    assert [e.action for e in uow.events] == ["created"]
    assert uow.events[0].role is Role.COORDINATOR
    assert uow.events[0].subject.participant_id == participant.id


async def test_registration_retries_a_colliding_subject_id() -> None:
    uow = FakeUnitOfWork()
    study = make_study()
    await uow.studies.add(study)  # registration checks that the study is still open
    site = make_site(study)
    await uow.sites.add(site)
    first = await cases.register_participant(
        uow=uow, ctx=caller(admin()), site_id=site.id, screening_number="A"
    )
    uow.participants.taken_subject_ids.update({first.subject_id})
    second = await cases.register_participant(
        uow=uow, ctx=caller(admin()), site_id=site.id, screening_number="B"
    )
    assert second.subject_id != first.subject_id


async def test_monitor_cannot_register() -> None:
    uow = FakeUnitOfWork()
    site = make_site()
    await uow.sites.add(site)
    with pytest.raises(DomainError) as raised:
        await cases.register_participant(
            uow=uow, ctx=caller(at_site(Role.MONITOR, site)), site_id=site.id, screening_number="1"
        )
    assert raised.value.code is ErrorCode.FORBIDDEN
    assert uow.participants.rows == {}


async def test_status_change_needs_a_reason_and_keeps_state_on_refusal() -> None:
    uow = FakeUnitOfWork()
    site = make_site()
    participant = make_participant(site)
    await uow.participants.try_add(participant)
    ctx = caller(at_site(Role.INVESTIGATOR, site))
    with pytest.raises(DomainError) as raised:
        await cases.change_status(
            uow=uow,
            ctx=ctx,
            participant_id=participant.id,
            status=ParticipantStatus.WITHDRAWN,
            reason=" ",
        )
    assert raised.value.code is ErrorCode.REASON_REQUIRED
    assert uow.participants.rows[participant.id].status is ParticipantStatus.SCREENED
    uow.clock.advance(hours=1)
    changed = await cases.change_status(
        uow=uow,
        ctx=ctx,
        participant_id=participant.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="Moved abroad",
    )
    assert changed.status is ParticipantStatus.WITHDRAWN
    assert uow.events[-1].reason == "Moved abroad"
    assert [f.field for f in uow.events[-1].fields] == [
        "status",
        "status_changed_at",
        "covers_collected_data",
    ]


async def test_stale_version_is_refused() -> None:
    uow = FakeUnitOfWork()
    site = make_site()
    participant = make_participant(site)
    await uow.participants.try_add(participant)
    with pytest.raises(DomainError) as raised:
        await cases.change_status(
            uow=uow,
            ctx=caller(admin()),
            participant_id=participant.id,
            status=ParticipantStatus.WITHDRAWN,
            reason="signed",
            expected_version=7,
        )
    assert raised.value.code is ErrorCode.STALE_VERSION


async def test_reads_are_scoped_to_the_callers_site() -> None:
    uow = FakeUnitOfWork()
    site, other = make_site(), make_site()
    mine, theirs = make_participant(site), make_participant(other)
    for p in (mine, theirs):
        await uow.participants.try_add(p)
    ctx = caller(at_site(Role.COORDINATOR, site))
    assert await cases.get_participant(uow=uow, ctx=ctx, participant_id=mine.id) == mine
    with pytest.raises(NotFound):
        await cases.get_participant(uow=uow, ctx=ctx, participant_id=theirs.id)
    page = await cases.page_participants(
        uow=uow, ctx=ctx, site_ids=[site.id, other.id], status=None, request=PageRequest()
    )
    assert list(page.items) == [mine]
    with pytest.raises(Unauthenticated):
        await cases.get_participant(uow=uow, ctx=caller(ANONYMOUS), participant_id=mine.id)


async def test_pages_follow_each_other() -> None:
    uow = FakeUnitOfWork()
    site = make_site()
    for n in range(5):
        await uow.participants.try_add(make_participant(site, screening_number=str(n)))
    ctx, seen, after = caller(admin()), [], None
    while True:
        page = await cases.page_participants(
            uow=uow,
            ctx=ctx,
            site_ids=[site.id],
            status=None,
            request=PageRequest(first=2, after=after),
        )
        seen += list(page.items)
        if not page.has_next_page:
            break
        after = (str(page.items[-1].id),)
    assert len(seen) == 5
    assert len({p.id for p in seen}) == 5


def test_oversized_pages_are_refused() -> None:
    with pytest.raises(DomainError) as raised:
        PageRequest(first=101)
    assert raised.value.code is ErrorCode.PAGE_SIZE_EXCEEDED


async def test_consent_and_enrolment_have_their_own_use_cases() -> None:
    uow = FakeUnitOfWork()
    participant = make_participant()
    await uow.participants.try_add(participant)
    for status in (ParticipantStatus.CONSENTED, ParticipantStatus.ENROLLED):
        with pytest.raises(DomainError) as raised:
            await cases.change_status(
                uow=uow,
                ctx=caller(admin()),
                participant_id=participant.id,
                status=status,
                reason="x",
            )
        assert raised.value.code is ErrorCode.INVALID_TRANSITION
