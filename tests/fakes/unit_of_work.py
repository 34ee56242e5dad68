"""In-memory fakes of the unit of work ports, for fast unit tests of the rules."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from domain.audit import Change
from domain.outbox import Work
from tests.fakes.audit import FakeKeys, FakeTrail
from tests.fakes.clock import FakeClock
from tests.fakes.consent import FakeConsents, FakeSignatures
from tests.fakes.contacts import FakeContacts
from tests.fakes.devices import FakeDevices, FakeReadings
from tests.fakes.diaries import FakeDiaries, FakeQuestionnaires
from tests.fakes.enrolment import FakeEnrolment
from tests.fakes.exports import FakeExports
from tests.fakes.occurrences import FakeOccurrences
from tests.fakes.participants import FakeParticipants
from tests.fakes.studies import FakeDesign, FakeSites, FakeStudies
from tests.fakes.users import FakeSessions, FakeUsers
from tests.fakes.visits import FakeQueries, FakeRecords, FakeVisits


class FakeUnitOfWork:
    """Commits are counted and events kept; a failed block leaves the stores untouched."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.studies = FakeStudies(self)
        self.sites = FakeSites()
        self.participants = FakeParticipants()
        self.users = FakeUsers()
        self.contacts = FakeContacts()
        self.sessions = FakeSessions()
        self.enrolment = FakeEnrolment()
        self.design = FakeDesign()
        self.consents = FakeConsents(self.participants)
        self.signatures = FakeSignatures()
        self.visits = FakeVisits()
        self.queries = FakeQueries()
        self.records = FakeRecords(self)
        self.questionnaires = FakeQuestionnaires()
        self.diaries = FakeDiaries()
        self.occurrences = FakeOccurrences(self.participants)
        self.devices = FakeDevices()
        self.exports = FakeExports()
        self.readings = FakeReadings()
        self.trail = FakeTrail()
        self.keys = FakeKeys()
        self.events: list[Change] = []
        self.commits = 0
        self.enqueued: list[Work] = []  # work handed to the worker by committed changes
        self.cancelled_work: list[str] = []  # keys cancelled by committed changes
        self._pending: list[Change] = []
        self._work: list[Work] = []
        self._cancels: list[str] = []
        self._snapshot: dict[str, object] = {}

    def __call__(self) -> Self:
        return self

    def record(self, change: Change) -> None:
        self._pending.append(change)

    def enqueue(self, work: Work) -> None:
        self._work.append(work)

    async def cancel_work(self, key: str) -> None:
        self._cancels.append(key)

    async def commit(self) -> None:
        self.events.extend(self._pending)
        self.enqueued.extend(self._work)
        self.cancelled_work.extend(self._cancels)
        self._forget()
        self.commits += 1
        self._snapshot = self._take()

    async def rollback(self) -> None:
        self._forget()
        self._restore()

    def _forget(self) -> None:
        self._pending.clear()
        self._work.clear()
        self._cancels.clear()

    def _take(self) -> dict[str, object]:
        return {type(s).__name__: dict(s.rows) for s in self._stores()}

    def _stores(
        self,
    ) -> tuple[
        FakeStudies | FakeSites | FakeParticipants | FakeUsers | FakeContacts | FakeOccurrences,
        ...,
    ]:
        stores = (self.studies, self.sites, self.participants, self.users, self.contacts)
        return (*stores, self.occurrences)

    def _restore(self) -> None:
        for store in self._stores():
            store.rows = dict(self._snapshot[type(store).__name__])  # type: ignore[call-overload]

    async def __aenter__(self) -> Self:
        self._snapshot = self._take()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()
