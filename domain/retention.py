"""Retention: how long a closed study's records are kept, and when its personal data may go.

A study's records are kept for a number of years from its closure (EU CTR 536/2014 art. 58
asks at least 25 for the trial master file). The installation sets a minimum; a study may
keep its records longer, never shorter. Until that period has elapsed, judged by the
injected clock, a purge is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from domain.errors import DomainError, ErrorCode, Invalid
from domain.studies import RetentionEvent, Study

MAX_YEARS = 100


@dataclass(frozen=True)
class Terms:
    """The retention in force for a study."""

    years: int  # the longer of the study's own and the installation's minimum
    configured_years: int | None  # what the study set, if it set anything
    minimum_years: int
    runs_from: RetentionEvent
    ends_at: datetime | None  # None while the study is open


def validated_years(years: int, minimum_years: int) -> int:
    if not 1 <= years <= MAX_YEARS:
        raise Invalid("years", f"Give a retention of 1 to {MAX_YEARS} years.")
    if years < minimum_years:
        raise DomainError(
            ErrorCode.RETENTION_BELOW_MINIMUM,
            f"Records are kept at least {minimum_years} years on this installation.",
            field="years",
        )
    return years


def terms(study: Study, minimum_years: int) -> Terms:
    # A minimum raised after a study set its retention still holds for that study.
    years = max(study.retention_years or minimum_years, minimum_years)
    return Terms(
        years=years,
        configured_years=study.retention_years,
        minimum_years=minimum_years,
        runs_from=study.retention_from,
        ends_at=add_years(study.closed_at, years) if study.closed_at else None,
    )


def add_years(moment: datetime, years: int) -> datetime:
    """The same instant so many calendar years later (UTC); 29 February gives 1 March, so the
    period is never shorter than the years it names."""
    start = moment.astimezone(UTC)
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February into a year without one
        return start.replace(year=start.year + years, month=3, day=1)


def require_elapsed(study: Study, minimum_years: int, now: datetime) -> None:
    """A study's personal data goes only after it is closed and its retention has elapsed."""
    if study.closed_at is None:
        raise DomainError(
            ErrorCode.STUDY_NOT_CLOSED,
            "This study is still open: it can be purged only after it is closed and its "
            "retention has elapsed.",
        )
    agreed = terms(study, minimum_years)
    if agreed.ends_at is not None and now < agreed.ends_at:
        raise DomainError(
            ErrorCode.RETENTION_NOT_ELAPSED,
            f"This study's retention runs until {agreed.ends_at:%Y-%m-%d %H:%M} UTC "
            f"({agreed.years} years from its closure on {study.closed_at:%Y-%m-%d}); "
            "its personal data cannot be purged before then.",
        )
