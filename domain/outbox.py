"""Work a change causes, done later by the worker: committed with the change, or never.

A use case hands `Work` to its unit of work (`uow.enqueue`); at commit the unit of work
queues it for the worker in the same transaction as the change and its audit events. A
rolled-back change queues nothing; a committed one cannot be forgotten. Arguments carry ids
and numbers only: they are stored in the clear in the job queue and appear in the worker's
logs, so never a name, a reason or any other free text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeAlias

WorkArg: TypeAlias = str | int | bool | None


@dataclass(frozen=True)
class Work:
    """One job for the worker: which task (registered by name) and with what arguments."""

    task: str
    args: Mapping[str, WorkArg] = field(default_factory=dict)
    # At most one job with a key runs at a time; `uow.cancel_work(key)` stops it.
    key: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """How often a job is tried, and how long the worker waits before trying it again."""

    attempts: int = 3
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=10)

    def delay(self, attempt: int) -> timedelta | None:
        """After attempt number `attempt` (from 1) failed: the wait, or None to give up."""
        if attempt >= self.attempts:
            return None
        return min(self.first_delay * (1 << max(attempt - 1, 0)), self.max_delay)


class RetryLater(Exception):
    """A job's attempt failed and the job says when to try again; the worker schedules it."""

    def __init__(self, at: datetime) -> None:
        super().__init__(f"retry at {at.isoformat()}")
        self.at = at
