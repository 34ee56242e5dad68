"""UTC offsets kept beside `timestamptz` columns, which store the instant but not the offset.

Device times are observations: 09:00+02:00 is not the same record as 07:00Z, so the offset the
device used is stored as "+HH:MM" and put back when the row is read.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone


def offset_of(moment: datetime) -> str:
    """The moment's UTC offset as "+HH:MM" (whole minutes: devices send no seconds)."""
    return _offset_text(moment.utcoffset())


@functools.lru_cache(maxsize=256)  # a few dozen offsets exist; uploads repeat them
def _offset_text(offset: timedelta | None) -> str:
    if offset is None or offset % timedelta(minutes=1):
        raise ValueError("a stored device time needs an offset in whole minutes")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def optional_offset(moment: datetime | None) -> str | None:
    return None if moment is None else offset_of(moment)


def in_offset(moment: datetime, offset: str | None) -> datetime:
    """The stored instant shown in the offset it was recorded with (UTC when none was)."""
    if not offset:
        return moment.astimezone(UTC)
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = (int(part) for part in offset[1:].split(":"))
    return moment.astimezone(timezone(sign * timedelta(hours=hours, minutes=minutes)))
