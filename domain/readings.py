"""Device readings: the kinds, their UCUM units and plausible ranges (Open mHealth, IEEE 1752.1),
normalised to one canonical unit per kind with `Decimal` arithmetic only. Reading one as a
device sends it is domain.reading_parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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


# Conversions run in their own context so that nobody's global decimal settings change results.
# Only division can be inexact; 50 digits keep its rounding far below the 3 stored places.
_EXACT = Context(
    prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


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


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def round_to(value: Decimal, places: int) -> Decimal:
    # Half-up (away from zero) as PostgreSQL's numeric round() does, so SQL recomputes the same.
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=_EXACT)
    return rounded.copy_abs() if rounded.is_zero() else rounded  # no "-0.000" in digests
