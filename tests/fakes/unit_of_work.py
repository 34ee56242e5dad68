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
from tests.fakes.deviations import FakeDeviations
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
    """Commits are counted and events kept; a block left without commit leaves every store as it was."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.studies = FakeStudies(self)
        self.sites = FakeSites()
        self.participants = FakeParticipants()
        self.users = FakeUsers()
        self.contacts = FakeContacts()
        self.sessions = FakeSessions(self.users, self.participants)
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
        self.deviations = FakeDeviations()
        self.events: list[Change] = []
        self.commits = 0
        self.enqueued: list[Work] = []  # work handed to the worker by committed changes
        self.cancelled_work: list[str] = []  # keys cancelled by committed changes
        self._pending: list[Change] = []
        self._work: list[Work] = []
        self._cancels: list[str] = []
        self._snapshot: dict[str, dict[str, object]] = {}

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

    def _stores(self) -> dict[str, object]:
        """Every store of this unit of work, by attribute name."""
        return {
            name: store
            for name, store in vars(self).items()
            if type(store).__module__.startswith("tests.fakes.") and store is not self.clock
        }

    def _take(self) -> dict[str, dict[str, object]]:
        """A private copy of every store's containers, so a rollback can put them back.

        Rows are immutable domain values and stores point at each other (e.g. consents read
        participants): only the dicts, lists and sets that hold the rows are copied.
        """
        return {name: _containers(vars(store)) for name, store in self._stores().items()}

    def _restore(self) -> None:
        for name, store in self._stores().items():
            state = _containers(self._snapshot[name])
            vars(store).clear()
            vars(store).update(state)

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


def _containers(state: dict[str, object]) -> dict[str, object]:
    return {key: _copied(value) for key, value in state.items()}


def _copied(value: object) -> object:
    if isinstance(value, dict):
        copied = value.copy()  # keeps a defaultdict's factory
        for key, item in value.items():
            copied[key] = _copied(item)
        return copied
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if isinstance(value, set):
        return set(value)
    return value
