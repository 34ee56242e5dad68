"""Contracts of the study, site and participant repositories, and of rollback itself."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.participants import Participant
from domain.schedules import ZoneChange
from domain.studies import Site, Study
from tests.contracts.conftest import UnitsOfWork
from tests.factories import NOW, make_participant, make_site, make_study


async def _trial(units: UnitsOfWork) -> tuple[Study, Site, Participant]:
    study = make_study()
    site = make_site(study)
    participant = make_participant(site)
    async with units() as uow:
        await uow.studies.add(study)
        await uow.sites.add(site)
        assert await uow.participants.try_add(participant)
        await uow.commit()
    return study, site, participant


async def test_what_is_left_without_commit_is_gone_from_every_store(units: UnitsOfWork) -> None:
    study, site, participant = make_study(), None, None
    site = make_site(study)
    participant = make_participant(site)
    async with units() as uow:
        await uow.studies.add(study)
        await uow.sites.add(site)
        assert await uow.participants.try_add(participant)
        # no commit: the block ends and everything it wrote is rolled back
    async with units() as uow:
        assert await uow.studies.get(study.id) is None
        assert await uow.sites.get(site.id) is None
        assert await uow.participants.get(participant.id) is None


async def test_a_failed_block_leaves_what_was_committed_before_it(units: UnitsOfWork) -> None:
    study, site, participant = await _trial(units)
    moved = dataclasses.replace(participant, timezone="America/New_York", version=2)
    with pytest.raises(RuntimeError):
        await _update_then_fail(units, moved)
    async with units() as uow:
        assert await uow.participants.get(participant.id) == participant
        assert await uow.studies.by_code(study.code) == study
        assert await uow.sites.by_code(study.id, site.code) == site


async def _update_then_fail(units: UnitsOfWork, participant: Participant) -> None:
    async with units() as uow:
        await uow.participants.update(participant)
        raise RuntimeError("the use case failed after its write")


async def test_codes_are_unique(units: UnitsOfWork) -> None:
    study, site, participant = await _trial(units)
    with pytest.raises(AlreadyExists):
        await _add_study(units, make_study(code=study.code))
    with pytest.raises(AlreadyExists):
        await _add_participant(
            units, make_participant(site, screening_number=participant.screening_number)
        )


async def _add_study(units: UnitsOfWork, study: Study) -> None:
    async with units() as uow:
        await uow.studies.add(study)
        await uow.commit()


async def _add_participant(units: UnitsOfWork, participant: Participant) -> None:
    async with units() as uow:
        await uow.participants.try_add(participant)
        await uow.commit()


async def test_a_participant_update_needs_the_next_version(units: UnitsOfWork) -> None:
    _, _, participant = await _trial(units)
    moved = dataclasses.replace(participant, timezone="America/New_York", version=2)
    async with units() as uow:
        await uow.participants.update(moved)
        await uow.commit()
    with pytest.raises(DomainError) as raised:
        await _update(units, moved)
    assert raised.value.code is ErrorCode.STALE_VERSION
    async with units() as uow:
        assert await uow.participants.get(participant.id) == moved


async def _update(units: UnitsOfWork, participant: Participant) -> None:
    async with units() as uow:
        await uow.participants.update(participant)
        await uow.commit()


async def test_the_zone_history_starts_at_registration_oldest_first(units: UnitsOfWork) -> None:
    _, _, participant = await _trial(units)
    later = ZoneChange(NOW + timedelta(days=3), "Asia/Tokyo")
    async with units() as uow:
        await uow.participants.add_zone(participant.id, later)
        await uow.commit()
    async with units() as uow:
        assert list(await uow.participants.zones(participant.id)) == [
            ZoneChange(participant.registered_at, participant.timezone),
            later,
        ]
