"""Device readings: Open mHealth (IEEE 1752.1) bodies checked for shape, UCUM unit, plausibility
and time, normalised to one canonical unit per kind with `Decimal` arithmetic only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from domain.audit import JsonValue
from domain.device_time import CLOCK_SKEW_THRESHOLD, skew_flag
from domain.intake import ItemCode


class ReadingKind(StrEnum):
    HEART_RATE = "HEART_RATE"
    BLOOD_PRESSURE = "BLOOD_PRESSURE"
    STEP_COUNT = "STEP_COUNT"
    BODY_WEIGHT = "BODY_WEIGHT"
    BLOOD_GLUCOSE = "BLOOD_GLUCOSE"
    OXYGEN_SATURATION = "OXYGEN_SATURATION"
    BODY_TEMPERATURE = "BODY_TEMPERATURE"


# Why one reading of a batch was rejected: the batch intake's per-item codes.
ReadingProblem = ItemCode


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

# Conversions run in their own context so that nobody's global decimal settings change results.
# Only division can be inexact; 50 digits keep its rounding far below the 3 stored places.
_EXACT = Context(
    prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
# Bounds on what a device may send before any arithmetic: no plausible value in any accepted
# unit reaches 10^7, and more than 20 significant digits is noise (or an attack on memory).
_MAX_ADJUSTED_EXPONENT = 6
_MAX_DIGITS = 20


@dataclass(frozen=True)
class Conversion:
    """canonical = (original + offset) * factor / divisor, in Decimal; dividing last keeps
    conversions such as °F -> °C exact wherever the result is representable."""

    factor: Decimal = Decimal(1)
    offset: Decimal = Decimal(0)
    divisor: Decimal = Decimal(1)

    def apply(self, value: Decimal) -> Decimal:
        with localcontext(_EXACT):
            return (value + self.offset) * self.factor / self.divisor

    def places(self, value: Decimal, most: int) -> int:
        """Decimal places of the converted value: the reported precision, carried over.

        One step of the reported value's last digit (16 kPa: 1 kPa; 10.5 kPa: 0.1 kPa) is
        converted too (7.5 and 0.75 mm[Hg]); the result keeps the decimal place of that step's
        first digit (120 and 78.8 mm[Hg]), so a conversion never invents precision. Values
        already in the canonical unit keep `most` places, as do steps finer than that.
        """
        exponent = value.as_tuple().exponent
        if self == Conversion() or not isinstance(exponent, int):
            return most
        with localcontext(_EXACT):
            step = Decimal(1).scaleb(exponent) * self.factor / self.divisor
        return max(0, min(most, -step.adjusted()))


@dataclass(frozen=True)
class ComponentSpec:
    name: str  # our name, the key of `Reading.components`
    key: str  # the Open mHealth body property it comes from
    low: Decimal  # plausible range on the canonical value, inclusive
    high: Decimal


@dataclass(frozen=True)
class KindSpec:
    canonical_unit: str
    units: Mapping[str, Conversion] = field(hash=False)  # accepted UCUM/OMH unit -> canonical
    components: tuple[ComponentSpec, ...]
    whole_number: bool = False  # counts: rejected if fractional, stored without decimals
    needs_interval: bool = False
    bare_number: bool = False  # OMH step-count 1.0 sends the count without a unit object

    @property
    def places(self) -> int:
        """Decimal places of the stored canonical value."""
        return 0 if self.whole_number else 3


_SAME = Conversion()
_POUND = Conversion(factor=Decimal("0.45359237"))  # international avoirdupois pound, exact
_FAHRENHEIT = Conversion(offset=Decimal(-32), factor=Decimal(5), divisor=Decimal(9))
# UCUM defines m[Hg] as exactly 133.3220 kPa, so 1 kPa = 1000 / 133.322 mm[Hg]
# (7.500 637 55...; the torr, 760 / 101.325 = 7.500 616 83 per kPa, is a different unit).
_KILOPASCAL = Conversion(factor=Decimal(1000), divisor=Decimal("133.322"))


def _c(name: str, key: str, low: str, high: str) -> ComponentSpec:
    return ComponentSpec(name, key, Decimal(low), Decimal(high))


SPECS: Mapping[ReadingKind, KindSpec] = MappingProxyType(
    {
        ReadingKind.HEART_RATE: KindSpec(
            canonical_unit="/min",
            units=MappingProxyType({"/min": _SAME, "{beats}/min": _SAME, "beats/min": _SAME}),
            components=(_c("heart_rate", "heart_rate", "20", "300"),),
        ),
        ReadingKind.BLOOD_PRESSURE: KindSpec(
            canonical_unit="mm[Hg]",
            units=MappingProxyType({"mm[Hg]": _SAME, "mmHg": _SAME, "kPa": _KILOPASCAL}),
            components=(
                _c("systolic", "systolic_blood_pressure", "50", "300"),
                _c("diastolic", "diastolic_blood_pressure", "20", "200"),
            ),
        ),
        ReadingKind.STEP_COUNT: KindSpec(
            canonical_unit="{steps}",
            units=MappingProxyType({"{steps}": _SAME, "steps": _SAME, "1": _SAME}),
            components=(_c("step_count", "step_count", "0", "100000"),),
            whole_number=True,
            needs_interval=True,
            bare_number=True,
        ),
        ReadingKind.BODY_WEIGHT: KindSpec(
            canonical_unit="kg",
            units=MappingProxyType(
                {
                    "kg": _SAME,
                    "g": Conversion(divisor=Decimal(1000)),
                    "[lb_av]": _POUND,
                    "lb": _POUND,
                }
            ),
            components=(_c("body_weight", "body_weight", "1", "500"),),
        ),
        ReadingKind.BLOOD_GLUCOSE: KindSpec(
            canonical_unit="mmol/L",
            # Glucose only: molar mass 180.156 g/mol, so 1 mmol/L = 18.0156 mg/dL.
            units=MappingProxyType(
                {"mmol/L": _SAME, "mg/dL": Conversion(divisor=Decimal("18.0156"))}
            ),
            components=(_c("blood_glucose", "blood_glucose", "0.5", "50"),),
        ),
        ReadingKind.OXYGEN_SATURATION: KindSpec(
            canonical_unit="%",
            units=MappingProxyType({"%": _SAME}),
            components=(_c("oxygen_saturation", "oxygen_saturation", "50", "100"),),
        ),
        ReadingKind.BODY_TEMPERATURE: KindSpec(
            canonical_unit="Cel",
            # "C", "F" and "K" are the Open mHealth spellings; "K" is in its schema, so accepted.
            units=MappingProxyType(
                {
                    "Cel": _SAME,
                    "C": _SAME,
                    "[degF]": _FAHRENHEIT,
                    "F": _FAHRENHEIT,
                    "K": Conversion(offset=Decimal("-273.15")),
                }
            ),
            components=(_c("body_temperature", "body_temperature", "30", "45"),),
        ),
    }
)


@dataclass(frozen=True)
class Measurement:
    value: Decimal  # canonical unit, rounded half-up to `KindSpec.places` places
    unit: str  # canonical UCUM unit
    original_value: Decimal  # exactly as sent
    original_unit: str  # exactly as sent; "" when the device sent a bare number

    def canonical(self) -> dict[str, JsonValue]:
        return {
            "value": str(self.value),
            "unit": self.unit,
            "original_value": str(self.original_value),
            "original_unit": self.original_unit,
        }


@dataclass(frozen=True)
class Reading:
    kind: ReadingKind
    source_id: str  # the device's own id for the record; with the device, the dedup identity
    components: Mapping[str, Measurement] = field(hash=False)
    effective_start: datetime  # aware, with the device's offset
    effective_end: datetime | None  # None for a point in time
    device_time: datetime | None = None  # the device clock when it sent the item, with offset

    def __post_init__(self) -> None:
        # Read-only, so a frozen reading cannot change through its components either.
        object.__setattr__(self, "components", MappingProxyType(dict(self.components)))

    @property
    def effective_key(self) -> datetime:
        """The moment used for deduplication: the start (or the point) of the effective time."""
        return self.effective_start

    def clock_skewed(
        self, received_at: datetime, *, threshold: timedelta = CLOCK_SKEW_THRESHOLD
    ) -> bool:
        return skew_flag(self.device_time, received_at, threshold=threshold)

    def same_measurement(self, other: Reading) -> bool:
        """Whether two sends describe the same measurement: equal values and instants (the
        send-time `device_time` and how an offset is spelled do not matter)."""
        return (
            self.kind is other.kind
            and self.source_id == other.source_id
            and self.effective_start == other.effective_start
            and self.effective_end == other.effective_end
            and dict(self.components) == dict(other.components)
        )

    def canonical(self) -> dict[str, JsonValue]:
        """Plain JSON values (decimals and times as strings) for hashing a batch of readings."""
        components: dict[str, JsonValue] = {
            name: self.components[name].canonical() for name in sorted(self.components)
        }
        return {
            "kind": self.kind.value,
            "source_id": self.source_id,
            "components": components,
            "effective_start": self.effective_start.isoformat(),
            "effective_end": _iso(self.effective_end),
            "device_time": _iso(self.device_time),
        }


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
        original_value, original_unit, conversion = _number(raw, path), "", _SAME
    else:
        unit_value = _mapping(raw, path)
        original_value = _number(unit_value.get("value"), f"{path}.value")
        original_unit = _unit(unit_value.get("unit"), spec, f"{path}.unit")
        conversion = spec.units[original_unit]
    if spec.whole_number and original_value != original_value.to_integral_value():
        raise ReadingRejected(
            ReadingProblem.IMPLAUSIBLE_VALUE, "Must be a whole number.", field=path
        )
    value = _round(conversion.apply(original_value), conversion.places(original_value, spec.places))
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


def _round(value: Decimal, places: int) -> Decimal:
    # Half-up (away from zero) as PostgreSQL's numeric round() does, so SQL recomputes the same.
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=_EXACT)
    return rounded.copy_abs() if rounded.is_zero() else rounded  # no "-0.000" in digests


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


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _require_aware(moment: datetime, name: str) -> None:
    # A programming error, not a problem with the reading: server times are always aware.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
