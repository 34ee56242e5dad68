"""Studies and their sites: the containers every participant and record belongs to.

A study is open while it collects data, closed once it has ended (it then collects nothing
and its records are kept for its retention period, domain/retention.py), and purged when its
participants' personal data has been crypto-shredded after that period.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from domain import values
from domain.errors import DomainError, ErrorCode
from domain.ids import SiteId, StudyId, new_id
from domain.reason_codes import DEFAULT_REASON_CODES, ReasonCode, study_list


class StudyStatus(StrEnum):
    OPEN = "OPEN"  # collecting data
    CLOSED = "CLOSED"  # ended: nothing new is collected; records kept for the retention
    PURGED = "PURGED"  # retention over: participants' personal data crypto-shredded


class RetentionEvent(StrEnum):
    """What a study's retention period runs from."""

    STUDY_CLOSURE = "STUDY_CLOSURE"


@dataclass(frozen=True)
class Study:
    ENTITY: ClassVar[str] = "Study"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: StudyId
    code: str
    title: str
    created_at: datetime
    retention_years: int | None = None  # None: the installation's minimum applies
    retention_from: RetentionEvent = RetentionEvent.STUDY_CLOSURE
    closed_at: datetime | None = None
    purged_at: datetime | None = None
    # The reason codes its changes may carry (domain/reason_codes.py): OTHER always among them.
    reason_codes: tuple[ReasonCode, ...] = DEFAULT_REASON_CODES
    version: int = 1

    @classmethod
    def new(cls, *, code: str, title: str, now: datetime) -> Study:
        return cls(
            id=StudyId(new_id()),
            code=values.code(code, "code"),
            title=values.text(title, "title"),
            created_at=now,
        )

    @property
    def status(self) -> StudyStatus:
        if self.purged_at is not None:
            return StudyStatus.PURGED
        return StudyStatus.OPEN if self.closed_at is None else StudyStatus.CLOSED

    def require_open(self) -> None:
        """New data, participants, sites and devices only while the study is open."""
        if self.closed_at is not None:
            raise DomainError(
                ErrorCode.STUDY_CLOSED,
                f"This study was closed on {self.closed_at:%Y-%m-%d}; it collects no new data.",
            )

    def with_retention(self, years: int, runs_from: RetentionEvent) -> Study:
        return dataclasses.replace(
            self, retention_years=years, retention_from=runs_from, version=self.version + 1
        )

    def with_reason_codes(self, codes: Iterable[str | ReasonCode]) -> Study:
        """The study allowing these codes of the catalogue (not empty, each once, OTHER in it)."""
        return dataclasses.replace(self, reason_codes=study_list(codes), version=self.version + 1)

    def closed(self, now: datetime) -> Study:
        """Closing is final: a closed study never collects data again."""
        self.require_open()
        return dataclasses.replace(self, closed_at=now, version=self.version + 1)

    def purged(self, now: datetime) -> Study:
        return dataclasses.replace(self, purged_at=now, version=self.version + 1)


@dataclass(frozen=True)
class OpenWork:
    """What still runs in a study: it closes only once every participant's disposition and
    every visit's outcome has been recorded, since closing never changes them itself."""

    active_participants: int  # screened, consented or enrolled
    scheduled_visits: int

    def require_none(self) -> None:
        if self.active_participants or self.scheduled_visits:
            raise DomainError(
                ErrorCode.STUDY_STILL_ACTIVE,
                f"{self.active_participants} participants are still screened, consented or "
                f"enrolled and {self.scheduled_visits} visits are still scheduled: record "
                "their completion or withdrawal, and complete or cancel the visits, first.",
            )


@dataclass(frozen=True)
class Site:
    ENTITY: ClassVar[str] = "Site"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: SiteId
    study_id: StudyId
    code: str
    name: str
    country: str
    timezone: str
    created_at: datetime
    contact: str | None = None  # how participants reach the site: shown in their app
    version: int = 1

    def with_contact(self, contact: str | None) -> Site:
        """A phone number, an e-mail address, opening hours: one line; None or blank clears."""
        cleaned = (
            values.text(contact, "contact", max_length=300)
            if contact is not None and contact.strip()
            else None
        )
        return dataclasses.replace(self, contact=cleaned, version=self.version + 1)

    @classmethod
    def new(
        cls, *, study_id: StudyId, code: str, name: str, country: str, timezone: str, now: datetime
    ) -> Site:
        return cls(
            id=SiteId(new_id()),
            study_id=study_id,
            code=values.code(code, "code"),
            name=values.text(name, "name"),
            country=values.country(country, "country"),
            timezone=values.timezone(timezone, "timezone"),
            created_at=now,
        )
