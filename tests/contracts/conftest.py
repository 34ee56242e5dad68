"""Each contract runs twice: against the in-memory fake and against its SQL repository.

A unit test that trusts a fake is only as good as the fake; these checks make the fakes
answer as PostgreSQL does for the behaviour the rules rely on (uniqueness, versions,
atomic counters, revocation, rollback).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import NOW
from tests.fakes import FakeClock, FakeUnitOfWork

UnitsOfWork = Callable[[], Any]  # a factory of units of work, fake or SQL


@pytest.fixture(params=["fake", "sql"])
def units(request: pytest.FixtureRequest) -> UnitsOfWork:
    if request.param == "fake":
        return FakeUnitOfWork(FakeClock(NOW))
    sql: UnitsOfWork = request.getfixturevalue("uow")
    return sql
