"""Device clocks: how far one is from the server's, and when an item counts as collected.

Phones and wearables keep their own time, and an offline backlog arrives long after it was
collected. The device's time is kept as sent (an observation, with its offset); the rules
that depend on *when* something was collected (the consent in force, the end of
participation) use `collected_at`, which takes a clock that is known to be off out of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

# Beyond this difference between device clock and server receipt an item is flagged.
CLOCK_SKEW_THRESHOLD = timedelta(minutes=5)


def clock_skew(device_time: datetime, received_at: datetime) -> timedelta:
    """How far the device clock is ahead of the server's (negative: behind)."""
    _require_aware(device_time, "device_time")
    _require_aware(received_at, "received_at")
    return device_time - received_at


def skew_flag(
    device_time: datetime | None,
    received_at: datetime,
    *,
    threshold: timedelta = CLOCK_SKEW_THRESHOLD,
) -> bool:
    """True when the device clock is off by more than `threshold`; without a device time, False."""
    if device_time is None:
        return False
    return abs(clock_skew(device_time, received_at)) > threshold


def collected_at(
    device_moment: datetime,
    device_time: datetime | None,
    received_at: datetime,
    *,
    threshold: timedelta = CLOCK_SKEW_THRESHOLD,
) -> datetime:
    """The instant an item collected at `device_moment` (the device's clock) is judged at.

    `device_time` is the device's clock when it sent the item. Within the threshold the
    device's time stands. Beyond it the clock is known to be off by (device time - receipt)
    and that error is taken out, as NTP would, so a phone set a year back cannot place new
    data under an old consent, nor one set ahead push data collected before a withdrawal
    after it. Nothing counts as collected after the server received it.
    """
    _require_aware(device_moment, "device_moment")
    moment = device_moment
    if device_time is not None and skew_flag(device_time, received_at, threshold=threshold):
        moment = device_moment - clock_skew(device_time, received_at)
    return min(moment, received_at)


def _require_aware(moment: datetime, name: str) -> None:
    # A programming error, not a problem with the data: times reaching here are aware.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
