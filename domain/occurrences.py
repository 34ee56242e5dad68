"""Planned diary occurrences, kept per participant for a rolling horizon.

Planning a participant's diaries (`domain.schedules.occurrences`) walks every local day in
every zone of their history: too slow to redo on every request. A plan is the planner's
output stored once, under a *basis*: a digest of everything the planner reads (enrolment
date, the schedules that apply to the participant's arm, their time-zone history). Reading
a plan under the current basis is reading what the planner would say; when an input changes
the basis changes, so a stale plan is never read, only replanned (by the worker, or once
by the first request that needs it).

A plan covers every occurrence due before its `until`: from the participant's enrolment
(nothing is due earlier) up to the horizon ahead of now, extended when a request reaches
past it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from domain.diaries import DiarySchedule
from domain.schedules import Occurrence, ZoneChange, occurrences

# Bump when the planner's rules change: every stored plan then has an old basis.
PLANNER_VERSION = 1
DEFAULT_HORIZON = timedelta(days=28)
# A request may reach this far past the horizon and still extend the stored plan; farther
# (an entry naming a diary years ahead) is planned for that request only, never stored.
STORED_REACH = timedelta(days=62)

REPLAN = "diaries.replan"  # args: participant_id
REPLAN_STUDY = "diaries.replan_study"  # args: study_id


@dataclass(frozen=True)
class Planned:
    """One occurrence of one schedule, as planned for a participant."""

    schedule_id: uuid.UUID
    occurrence: Occurrence


@dataclass(frozen=True)
class StoredPlan:
    """What the store holds of one plan: how far it reaches, and the occurrences asked for."""

    until: datetime
    occurrences: Sequence[Planned]


@dataclass(frozen=True)
class PlanInputs:
    """Everything the planner reads for one participant."""

    enrolled_on: date
    schedules: tuple[DiarySchedule, ...]  # those that apply to the arm, in the study's order
    history: tuple[ZoneChange, ...]

    @classmethod
    def of(
        cls,
        *,
        enrolled_on: date,
        arm_id: uuid.UUID | None,
        schedules: Sequence[DiarySchedule],
        history: Sequence[ZoneChange],
    ) -> PlanInputs:
        mine = tuple(s for s in schedules if s.applies_to(arm_id))
        return cls(enrolled_on, mine, tuple(history))

    @property
    def origin(self) -> datetime:
        """No occurrence is due before this instant (two days before the enrolment date)."""
        return datetime.combine(self.enrolled_on - timedelta(days=2), time(), tzinfo=UTC)

    def basis(self) -> str:
        """A digest of the inputs: equal for equal plans, different when any input differs."""
        document = {
            "planner": PLANNER_VERSION,
            "enrolled_on": self.enrolled_on.isoformat(),
            "schedules": [
                {
                    "id": str(s.id),
                    "version": s.version,
                    "times": [t.isoformat(timespec="minutes") for t in s.recurrence.times],
                    "window": s.recurrence.window.total_seconds(),
                    "weekdays": sorted(s.recurrence.weekdays or ()),
                    "start_day": s.recurrence.start_day,
                    "end_day": s.recurrence.end_day,
                }
                for s in self.schedules
            ],
            "zones": [[z.effective_from.isoformat(), z.timezone] for z in self.history],
        }
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def plan(self, start: datetime, end: datetime) -> list[Planned]:
        """The pure planner's occurrences due in [start, end), schedule by schedule."""
        found: list[Planned] = []
        for schedule in self.schedules:
            found += [
                Planned(schedule.id, o)
                for o in occurrences(
                    schedule.recurrence,
                    anchor=self.enrolled_on,
                    history=self.history,
                    start=start,
                    end=end,
                )
            ]
        return found

    def ordered(self, planned: Sequence[Planned]) -> list[tuple[DiarySchedule, Occurrence]]:
        """By due time, then in the study's schedule order, then by key (the planner's order)."""
        rank = {s.id: i for i, s in enumerate(self.schedules)}
        by_id = {s.id: s for s in self.schedules}
        known = [p for p in planned if p.schedule_id in rank]
        known.sort(key=lambda p: (p.occurrence.due_at, rank[p.schedule_id], p.occurrence.key))
        return [(by_id[p.schedule_id], p.occurrence) for p in known]
