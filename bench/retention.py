"""Purging a study: one purge over N participants vs erasing the same N one by one.

    python -m bench.retention [--participants 1000]

Two studies of N withdrawn participants each, closed; the clock is then moved past their
retention. The purge shreds every data key of one study in one transaction; the baseline
erases the other study's participants with `eraseParticipant`, one transaction each.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from api.app import build_runtime
from bench.common import machine, run, scratch_settings
from domain.actors import Origin, RequestContext, system_actor
from domain.ids import ParticipantId
from domain.participants import ParticipantStatus
from domain.ports import UnitOfWorkFactory
from domain.services import contacts, participants, retention, studies
from domain.studies import Study

MINIMUM = 25
_CTX = RequestContext(actor=system_actor("bench"), origin=Origin(request_id="bench-retention"))


class _Clock:
    """The real time, moved on when the benchmark says so (past the retention)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def _study(
    factory: UnitOfWorkFactory, code: str, count: int
) -> tuple[Study, list[ParticipantId]]:
    """A closed study of `count` withdrawn participants, built through the use cases."""
    study = await studies.create_study(uow=factory(), ctx=_CTX, code=code, title="Bench")
    site = await studies.create_site(
        uow=factory(),
        ctx=_CTX,
        study_id=study.id,
        code="B",
        name="Bench",
        country="DE",
        timezone="Europe/Berlin",
    )
    ids: list[ParticipantId] = []
    for n in range(count):
        person = await participants.register_participant(
            uow=factory(), ctx=_CTX, site_id=site.id, screening_number=f"S-{n}"
        )
        await participants.change_status(
            uow=factory(),
            ctx=_CTX,
            participant_id=person.id,
            status=ParticipantStatus.WITHDRAWN,
            reason="done",
        )
        ids.append(person.id)
    closed = await retention.close_study(uow=factory(), ctx=_CTX, study_id=study.id, reason="end")
    return closed, ids


async def main(count: int) -> None:
    clock = _Clock()
    async with scratch_settings(pool_size=4) as settings:
        runtime = build_runtime(settings, clock=clock)
        uow = runtime.services.uow
        try:
            purged, _ = await _study(uow, "PURGE", count)
            _, erased = await _study(uow, "ERASE", count)
            clock.offset = timedelta(days=366 * MINIMUM)
            started = time.perf_counter()
            done = await retention.purge_study(
                uow=uow(), ctx=_CTX, study_id=purged.id, reason="over", minimum_years=MINIMUM
            )
            purge = time.perf_counter() - started
            started = time.perf_counter()
            for pid in erased:
                await contacts.erase_participant(
                    uow=uow(), ctx=_CTX, participant_id=pid, legal_basis="over"
                )
            baseline = time.perf_counter() - started
        finally:
            await runtime.close()
    assert done.shredded == count
    print(f"{machine()}; {count} participants per study")
    print(f"purge, one transaction:     {purge:7.2f} s  ({count / purge:7.0f} participants/s)")
    print(
        f"erasures, one by one:       {baseline:7.2f} s  ({count / baseline:7.0f} participants/s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000)
    run(main(parser.parse_args().participants))
