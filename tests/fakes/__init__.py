"""Hand-written in-memory fakes of the domain's ports, for fast unit tests of the rules."""

from __future__ import annotations

from tests.fakes.audit import FakeKeys, FakeTrail
from tests.fakes.auth import FakePasswords, FakePasswordScreen, FakeTokens
from tests.fakes.clock import FakeClock
from tests.fakes.consent import FakeConsents, FakeSignatures
from tests.fakes.contacts import FakeContacts
from tests.fakes.devices import FakeDevices, FakeReadings
from tests.fakes.diaries import FakeDiaries, FakeQuestionnaires
from tests.fakes.enrolment import FakeEnrolment
from tests.fakes.exports import FakeExports
from tests.fakes.participants import FakeParticipants
from tests.fakes.studies import FakeDesign, FakeSites, FakeStudies
from tests.fakes.unit_of_work import FakeUnitOfWork
from tests.fakes.users import FakeSessions, FakeUsers
from tests.fakes.visits import FakeQueries, FakeRecords, FakeVisits

__all__ = [
    "FakeClock",
    "FakeConsents",
    "FakeContacts",
    "FakeDesign",
    "FakeDevices",
    "FakeDiaries",
    "FakeEnrolment",
    "FakeExports",
    "FakeKeys",
    "FakeParticipants",
    "FakePasswordScreen",
    "FakePasswords",
    "FakeQueries",
    "FakeQuestionnaires",
    "FakeReadings",
    "FakeRecords",
    "FakeSessions",
    "FakeSignatures",
    "FakeSites",
    "FakeStudies",
    "FakeTokens",
    "FakeTrail",
    "FakeUnitOfWork",
    "FakeUsers",
    "FakeVisits",
]
