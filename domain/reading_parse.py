"""Reading one device reading as sent: shape, kind, unit, plausibility and time, each refusal
with a stable per-item code (domain.intake) and a message that never repeats what was sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import (
    Decimal,
)
from typing import Any

from domain.readings import (
    SPECS,
    ComponentSpec,
    Conversion,
    KindSpec,
    Measurement,
    Reading,
    ReadingKind,
    ReadingProblem,
    round_to,
)


class ReadingRejected(Exception):
    """One reading refused. The message says what is wrong and never repeats what was sent."""

    def __init__(self, code: ReadingProblem, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field  # dotted path into the item, e.g. "body.heart_rate.unit"


# Device clocks may run a little ahead of ours; beyond this a time is rejected as future.
FUTURE_TOLERANCE = timedelta(minutes=10)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_STEP_INTERVAL = timedelta(hours=24)
MAX_SOURCE_ID_LENGTH = 200


# Bounds on what a device may send before any arithmetic: no plausible value in any accepted
# unit reaches 10^7, and more than 20 significant digits is noise (or an attack on memory).
_MAX_ADJUSTED_EXPONENT = 6
_MAX_DIGITS = 20


def parse_reading(
    item: object, *, now: datetime, future_tolerance: timedelta = FUTURE_TOLERANCE
) -> Reading:
    """One batch item `{"kind", "sourceId", "body", "deviceTime"?}` checked and normalised.

    Raises ReadingRejected with the first problem found.
    """
    _require_aware(now, "now")
    fields = _mapping(item, "item")
    kind = _kind(fields.get("kind"))
    source_id = _source_id(fields.get("sourceId"))
    body = _mapping(fields.get("body"), "body")
    spec = SPECS[kind]
    components = {c.name: _measurement(spec, c, body) for c in spec.components}
    if kind is ReadingKind.BLOOD_PRESSURE and (
        components["systolic"].value <= components["diastolic"].value
    ):
        raise ReadingRejected(
            ReadingProblem.IMPLAUSIBLE_VALUE,
            "Systolic pressure must be higher than diastolic pressure.",
            field="body",
        )
    start, end = _time_frame(body.get("effective_time_frame"), spec, now, future_tolerance)
    return Reading(
        kind=kind,
        source_id=source_id,
        components=components,
        effective_start=start,
        effective_end=end,
        device_time=_device_time(fields.get("deviceTime")),
    )


def _mapping(raw: object, path: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ReadingRejected(ReadingProblem.INVALID_SHAPE, "Must be an object.", field=path)
    return raw


def _kind(raw: object) -> ReadingKind:
    if not isinstance(raw, str):
        raise ReadingRejected(ReadingProblem.INVALID_SHAPE, "A kind is required.", field="kind")
    try:
        return ReadingKind(raw)
    except ValueError:
        raise ReadingRejected(
            ReadingProblem.UNKNOWN_KIND,
            f"Use one of: {', '.join(ReadingKind)}.",
            field="kind",
        ) from None


def _source_id(raw: object) -> str:
    # An identifier, compared byte for byte for deduplication: checked, never rewritten.
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ReadingRejected(
            ReadingProblem.MISSING_SOURCE_ID, "A source id is required.", field="sourceId"
        )
    if not isinstance(raw, str) or len(raw) > MAX_SOURCE_ID_LENGTH or not raw.isprintable():
        raise ReadingRejected(
            ReadingProblem.INVALID_SHAPE,
            f"Use a string of 1-{MAX_SOURCE_ID_LENGTH} printable characters.",
            field="sourceId",
        )
    return raw


def _measurement(spec: KindSpec, component: ComponentSpec, body: Mapping[str, Any]) -> Measurement:
    path = f"body.{component.key}"
    raw = body.get(component.key)
    if raw is None:
        raise ReadingRejected(
            ReadingProblem.MISSING_COMPONENT, f"{component.key} is required.", field=path
        )
    if spec.bare_number and not isinstance(raw, Mapping):
        original_value, original_unit, conversion = _number(raw, path), "", Conversion()
    else:
        unit_value = _mapping(raw, path)
        original_value = _number(unit_value.get("value"), f"{path}.value")
        original_unit = _unit(unit_value.get("unit"), spec, f"{path}.unit")
        conversion = spec.units[original_unit]
    if spec.whole_number and original_value != original_value.to_integral_value():
        raise ReadingRejected(
            ReadingProblem.IMPLAUSIBLE_VALUE, "Must be a whole number.", field=path
        )
    value = round_to(
        conversion.apply(original_value), conversion.places(original_value, spec.places)
    )
    if not component.low <= value <= component.high:
        raise ReadingRejected(
            ReadingProblem.IMPLAUSIBLE_VALUE,
            f"Must be between {component.low} and {component.high} {spec.canonical_unit}.",
            field=path,
        )
    return Measurement(value, spec.canonical_unit, original_value, original_unit)


def _number(raw: object, path: str) -> Decimal:
    # bool is an int in Python, but `true` is not a number in JSON.
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        raise ReadingRejected(ReadingProblem.INVALID_SHAPE, "Must be a JSON number.", field=path)
    # Callers should parse JSON with parse_float=Decimal. If a float still arrives, its shortest
    # repr is the text that was sent (up to 15 significant digits), never its binary expansion.
    value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    if not value.is_finite():
        raise ReadingRejected(ReadingProblem.INVALID_SHAPE, "Must be a finite number.", field=path)
    if len(value.as_tuple().digits) > _MAX_DIGITS:
        raise ReadingRejected(
            ReadingProblem.INVALID_SHAPE,
            f"Use at most {_MAX_DIGITS} significant digits.",
            field=path,
        )
    if value.adjusted() > _MAX_ADJUSTED_EXPONENT:
        raise ReadingRejected(ReadingProblem.IMPLAUSIBLE_VALUE, "Value is too large.", field=path)
    return value


def _unit(raw: object, spec: KindSpec, path: str) -> str:
    if raw is None:
        raise ReadingRejected(ReadingProblem.INVALID_UNIT, "A unit is required.", field=path)
    if not isinstance(raw, str):
        raise ReadingRejected(ReadingProblem.INVALID_SHAPE, "Must be a string.", field=path)
    # UCUM is case-sensitive ("mm[Hg]", not "mm[hg]"), so units match exactly.
    if raw not in spec.units:
        raise ReadingRejected(
            ReadingProblem.INVALID_UNIT, f"Use one of: {', '.join(spec.units)}.", field=path
        )
    return raw


def _time_frame(
    raw: object, spec: KindSpec, now: datetime, tolerance: timedelta
) -> tuple[datetime, datetime | None]:
    path = "body.effective_time_frame"
    if raw is None:
        raise ReadingRejected(
            ReadingProblem.INVALID_TIME, "An effective_time_frame is required.", field=path
        )
    frame = _mapping(raw, path)
    if ("date_time" in frame) == ("time_interval" in frame):
        raise ReadingRejected(
            ReadingProblem.INVALID_TIME,
            "Give either date_time or time_interval.",
            field=path,
        )
    if "date_time" in frame:
        if spec.needs_interval:
            raise ReadingRejected(
                ReadingProblem.INVALID_TIME,
                "This kind needs a time_interval with start_date_time and end_date_time.",
                field=path,
            )
        point = _effective_time(frame["date_time"], f"{path}.date_time", now, tolerance)
        return point, None
    interval_path = f"{path}.time_interval"
    interval = _mapping(frame["time_interval"], interval_path)
    # OMH also allows an interval as a start or end plus a duration; devices we take send both ends.
    if "start_date_time" not in interval or "end_date_time" not in interval:
        raise ReadingRejected(
            ReadingProblem.INVALID_TIME,
            "A time_interval needs start_date_time and end_date_time.",
            field=interval_path,
        )
    start = _effective_time(
        interval["start_date_time"], f"{interval_path}.start_date_time", now, tolerance
    )
    end = _effective_time(
        interval["end_date_time"], f"{interval_path}.end_date_time", now, tolerance
    )
    if end < start:
        raise ReadingRejected(
            ReadingProblem.INVALID_TIME, "The interval ends before it starts.", field=interval_path
        )
    if spec.needs_interval and end - start > MAX_STEP_INTERVAL:
        raise ReadingRejected(
            ReadingProblem.INVALID_TIME,
            "The interval must be at most 24 hours.",
            field=interval_path,
        )
    return start, end


def _effective_time(raw: object, path: str, now: datetime, tolerance: timedelta) -> datetime:
    moment = _timestamp(raw, path)
    if moment < EARLIEST:
        raise ReadingRejected(
            ReadingProblem.INVALID_TIME, "Must not be before the year 2000.", field=path
        )
    if moment > now + tolerance:
        raise ReadingRejected(ReadingProblem.INVALID_TIME, "Must not be in the future.", field=path)
    return moment


def _device_time(raw: object) -> datetime | None:
    # No range check: a device clock that is far off is exactly what skew flagging reports.
    # Only a time that has no UTC equivalent (year 1 or 9999 pushed over the edge by its
    # offset) is refused, since nothing downstream could store or compare it.
    if raw is None:
        return None
    moment = _timestamp(raw, "deviceTime")
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ReadingRejected(
            ReadingProblem.INVALID_TIME, "Not a representable date and time.", field="deviceTime"
        ) from None
    return moment


# RFC 3339 date-time as Open mHealth uses it; the offset is optional here only so that its
# absence can be reported as MISSING_OFFSET rather than as an unparseable time.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def _timestamp(raw: object, path: str) -> datetime:
    if not isinstance(raw, str):
        raise ReadingRejected(ReadingProblem.INVALID_SHAPE, "Must be a string.", field=path)
    match = _RFC3339.fullmatch(raw)
    if match is None:
        raise ReadingRejected(
            ReadingProblem.INVALID_TIME,
            "Use an ISO 8601 date-time such as 2026-03-29T09:00:00+02:00.",
            field=path,
        )
    if match["offset"] is None:
        raise ReadingRejected(
            ReadingProblem.MISSING_OFFSET,
            "Add the UTC offset, e.g. +02:00 or Z.",
            field=path,
        )
    try:
        # The device's offset is kept as given: it is part of the observation (requirement 19).
        return datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ReadingRejected(
            ReadingProblem.INVALID_TIME, "Not a valid date and time.", field=path
        ) from None


def _require_aware(moment: datetime, name: str) -> None:
    # A programming error, not a problem with the reading: server times are always aware.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
