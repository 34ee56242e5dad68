"""Device readings: Open mHealth bodies, UCUM conversions, plausibility, times and clock skew."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest

from domain.device_time import CLOCK_SKEW_THRESHOLD, clock_skew, skew_flag
from domain.reading_parse import ReadingRejected, parse_reading
from domain.readings import (
    SPECS,
    Reading,
    ReadingKind,
    ReadingProblem,
)

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
AT = "2026-03-29T09:00:00+02:00"
START = "2026-03-29T08:00:00+02:00"
END = "2026-03-29T09:00:00+02:00"


def uv(value: object, unit: object) -> dict[str, object]:
    return {"value": value, "unit": unit}


def at(moment: object = AT) -> dict[str, object]:
    return {"date_time": moment}


def between(start: object = START, end: object = END) -> dict[str, object]:
    return {"time_interval": {"start_date_time": start, "end_date_time": end}}


def item(kind: str, body: dict[str, object], **extra: object) -> dict[str, object]:
    return {"kind": kind, "sourceId": "watch-123:rec-9", "body": body, **extra}


def heart_rate(
    value: object = 72, unit: object = "beats/min", frame: object = None
) -> dict[str, object]:
    return item(
        "HEART_RATE", {"heart_rate": uv(value, unit), "effective_time_frame": frame or at()}
    )


def blood_pressure(
    systolic: object = 120, diastolic: object = 80, unit: str = "mmHg"
) -> dict[str, object]:
    return item(
        "BLOOD_PRESSURE",
        {
            "systolic_blood_pressure": uv(systolic, unit),
            "diastolic_blood_pressure": uv(diastolic, unit),
            "effective_time_frame": at(),
        },
    )


def steps(count: object = 3000, frame: object = None) -> dict[str, object]:
    return item("STEP_COUNT", {"step_count": count, "effective_time_frame": frame or between()})


def single(kind: ReadingKind, value: object, unit: str) -> dict[str, object]:
    key = SPECS[kind].components[0].key
    frame = between() if SPECS[kind].needs_interval else at()
    return item(kind.value, {key: uv(value, unit), "effective_time_frame": frame})


def parse(raw: object, now: datetime = NOW) -> Reading:
    return parse_reading(raw, now=now)


def rejected(raw: object, now: datetime = NOW) -> ReadingRejected:
    with pytest.raises(ReadingRejected) as raised:
        parse_reading(raw, now=now)
    return raised.value


# --- every kind from its Open mHealth body ---------------------------------------------------

OMH_BODIES: dict[ReadingKind, dict[str, object]] = {
    ReadingKind.HEART_RATE: {
        "heart_rate": {"value": 72, "unit": "beats/min"},
        "temporal_relationship_to_physical_activity": "at rest",
        "effective_time_frame": {"date_time": AT},
    },
    ReadingKind.BLOOD_PRESSURE: {
        "systolic_blood_pressure": {"value": 120, "unit": "mmHg"},
        "diastolic_blood_pressure": {"value": 80, "unit": "mmHg"},
        "body_posture": "sitting",
        "effective_time_frame": {"date_time": AT},
    },
    ReadingKind.STEP_COUNT: {
        "step_count": {"value": 3000, "unit": "steps"},
        "effective_time_frame": {"time_interval": {"start_date_time": START, "end_date_time": END}},
    },
    ReadingKind.BODY_WEIGHT: {
        "body_weight": {"value": Decimal("70.5"), "unit": "kg"},
        "effective_time_frame": {"date_time": AT},
    },
    ReadingKind.BLOOD_GLUCOSE: {
        "blood_glucose": {"value": 100, "unit": "mg/dL"},
        "specimen_source": "capillary blood",
        "temporal_relationship_to_meal": "fasting",
        "effective_time_frame": {"date_time": AT},
    },
    ReadingKind.OXYGEN_SATURATION: {
        "oxygen_saturation": {"value": 97, "unit": "%"},
        "measurement_method": "pulse oximetry",
        "effective_time_frame": {"date_time": AT},
    },
    ReadingKind.BODY_TEMPERATURE: {
        "body_temperature": {"value": Decimal("98.6"), "unit": "F"},
        "measurement_location": "oral",
        "effective_time_frame": {"date_time": AT},
    },
}


@pytest.mark.parametrize("kind", list(ReadingKind))
def test_every_kind_parses_from_its_open_mhealth_body(kind: ReadingKind) -> None:
    reading = parse(item(kind.value, OMH_BODIES[kind]))
    spec = SPECS[kind]
    assert reading.kind is kind
    assert reading.source_id == "watch-123:rec-9"
    assert list(reading.components) == [c.name for c in spec.components]
    assert all(m.unit == spec.canonical_unit for m in reading.components.values())
    assert reading.effective_start.utcoffset() == timedelta(hours=2)


def test_blood_pressure_carries_systolic_and_diastolic() -> None:
    reading = parse(blood_pressure())
    assert str(reading.components["systolic"].value) == "120.000"
    assert str(reading.components["diastolic"].value) == "80.000"
    assert reading.effective_end is None


def test_step_count_accepts_a_bare_number_and_keeps_an_interval() -> None:
    reading = parse(steps(3000))
    measurement = reading.components["step_count"]
    assert (measurement.value, measurement.unit) == (Decimal(3000), "{steps}")
    assert str(measurement.value) == "3000"
    assert (measurement.original_value, measurement.original_unit) == (Decimal(3000), "")
    assert reading.effective_start == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert reading.effective_end == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_point_kinds_accept_an_interval_too() -> None:
    reading = parse(heart_rate(frame=between()))
    assert reading.effective_key == reading.effective_start
    assert reading.effective_end is not None


# --- units -----------------------------------------------------------------------------------

CONVERSIONS: list[tuple[ReadingKind, str, object, str]] = [
    (ReadingKind.HEART_RATE, "/min", 72, "72.000"),
    (ReadingKind.HEART_RATE, "{beats}/min", 72, "72.000"),
    (ReadingKind.HEART_RATE, "beats/min", Decimal("72.5"), "72.500"),
    (ReadingKind.BLOOD_PRESSURE, "mm[Hg]", 120, "120.000"),
    (ReadingKind.BLOOD_PRESSURE, "mmHg", 120, "120.000"),
    (ReadingKind.BLOOD_PRESSURE, "kPa", 16, "120"),  # 120.0099; 1 kPa is 7.5 mm[Hg]
    (ReadingKind.STEP_COUNT, "{steps}", 3000, "3000"),
    (ReadingKind.STEP_COUNT, "steps", 3000, "3000"),
    (ReadingKind.STEP_COUNT, "1", Decimal("3000.0"), "3000"),
    (ReadingKind.BODY_WEIGHT, "kg", Decimal("70.5"), "70.500"),
    (ReadingKind.BODY_WEIGHT, "g", 70500, "70.500"),
    (ReadingKind.BODY_WEIGHT, "[lb_av]", Decimal("154.3"), "69.99"),  # 69.989302691
    (ReadingKind.BODY_WEIGHT, "lb", Decimal("154.3"), "69.99"),
    (ReadingKind.BLOOD_GLUCOSE, "mmol/L", Decimal("5.5"), "5.500"),
    (ReadingKind.BLOOD_GLUCOSE, "mg/dL", 100, "5.55"),  # 5.55074...
    (ReadingKind.OXYGEN_SATURATION, "%", 97, "97.000"),
    (ReadingKind.BODY_TEMPERATURE, "Cel", Decimal("37.2"), "37.200"),
    (ReadingKind.BODY_TEMPERATURE, "C", Decimal("37.2"), "37.200"),
    (ReadingKind.BODY_TEMPERATURE, "[degF]", Decimal("98.6"), "37.00"),
    (ReadingKind.BODY_TEMPERATURE, "F", Decimal("98.6"), "37.00"),
    (ReadingKind.BODY_TEMPERATURE, "K", Decimal("310.15"), "37.00"),
]


@pytest.mark.parametrize(("kind", "unit", "value", "expected"), CONVERSIONS)
def test_each_accepted_unit_converts_exactly_and_keeps_the_original(
    kind: ReadingKind, unit: str, value: object, expected: str
) -> None:
    if kind is ReadingKind.BLOOD_PRESSURE:
        diastolic = Decimal("10.5") if unit == "kPa" else 80  # 78.756: 78.8 mm[Hg]
        raw = item(
            kind.value,
            {
                "systolic_blood_pressure": uv(value, unit),
                "diastolic_blood_pressure": uv(diastolic, unit),
                "effective_time_frame": at(),
            },
        )
    else:
        raw = single(kind, value, unit)
    measurement = next(iter(parse(raw).components.values()))
    assert str(measurement.value) == expected
    assert measurement.unit == SPECS[kind].canonical_unit
    assert measurement.original_value == Decimal(str(value))
    assert measurement.original_unit == unit


def test_every_accepted_unit_has_a_conversion_test() -> None:
    tested = {(kind, unit) for kind, unit, _, _ in CONVERSIONS}
    assert tested == {(kind, unit) for kind, spec in SPECS.items() for unit in spec.units}


def test_original_value_keeps_its_exact_digits() -> None:
    reading = parse(single(ReadingKind.BODY_WEIGHT, Decimal("154.30"), "[lb_av]"))
    measurement = reading.components["body_weight"]
    assert str(measurement.original_value) == "154.30"
    assert measurement.original_unit == "[lb_av]"
    assert measurement.canonical() == {
        "value": "69.989",
        "unit": "kg",
        "original_value": "154.30",
        "original_unit": "[lb_av]",
    }


def test_conversion_never_goes_through_float() -> None:
    # 50002.5 g is exactly 50.0025 kg, rounded half-up to 50.003; in binary floating point the
    # quotient is 50.00249999... and would round to 50.002.
    assert Decimal(50002.5 / 1000).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) == Decimal(
        "50.002"
    )
    reading = parse(single(ReadingKind.BODY_WEIGHT, Decimal("50002.5"), "g"))
    assert str(reading.components["body_weight"].value) == "50.003"
    # The familiar 0.1 + 0.2: the sum is exact, so the K -> Cel offset leaves no binary noise.
    reading = parse(single(ReadingKind.BODY_TEMPERATURE, Decimal("310.10"), "K"))
    assert str(reading.components["body_temperature"].value) == "36.95"


def test_a_float_from_plain_json_keeps_the_digits_that_were_sent() -> None:
    reading = parse(single(ReadingKind.BODY_TEMPERATURE, 98.6, "[degF]"))
    measurement = reading.components["body_temperature"]
    assert str(measurement.original_value) == "98.6"  # not 98.599999999999994315658113919198513
    assert str(measurement.value) == "37.00"


def test_a_changed_global_decimal_context_does_not_change_results() -> None:
    with localcontext() as ctx:
        ctx.prec = 3
        reading = parse(single(ReadingKind.BLOOD_GLUCOSE, 100, "mg/dL"))
    assert str(reading.components["blood_glucose"].value) == "5.55"


def _pressure(systolic: str, diastolic: str) -> tuple[str, str]:
    raw = item(
        "BLOOD_PRESSURE",
        {
            "systolic_blood_pressure": uv(Decimal(systolic), "kPa"),
            "diastolic_blood_pressure": uv(Decimal(diastolic), "kPa"),
            "effective_time_frame": at(),
        },
    )
    parts = parse(raw).components
    return str(parts["systolic"].value), str(parts["diastolic"].value)


def test_kilopascals_convert_with_the_exact_factor_and_the_reported_precision() -> None:
    # Issue: 16 kPa became 120.010 mm[Hg] (7.50062, and three decimals nobody measured).
    assert _pressure("16", "10.5") == ("120", "78.8")  # 1 kPa = 7.5, 0.1 kPa = 0.75 mm[Hg]
    assert _pressure("16.00", "10.50") == ("120.01", "78.76")
    # UCUM defines 1 mm[Hg] as 0.133322 kPa: 3.137 kPa = 23.52950 mm[Hg] -> 23.530, where the
    # torr (7.500617 per kPa) and the old rounded 7.50062 both give 23.529.
    assert _pressure("16.000", "3.137") == ("120.010", "23.530")


def test_a_converted_value_is_never_finer_than_three_places_nor_coarser_than_units() -> None:
    grams = parse(single(ReadingKind.BODY_WEIGHT, Decimal("70500.25"), "g"))
    assert str(grams.components["body_weight"].value) == "70.500"  # 0.01 g: capped at 3
    coarse = parse(single(ReadingKind.BLOOD_GLUCOSE, Decimal("1E+2"), "mg/dL"))
    assert (
        str(coarse.components["blood_glucose"].value) == "6"
    )  # "1E+2": reported in steps of 100 mg/dL


def test_rounding_is_half_up() -> None:
    reading = parse(single(ReadingKind.BODY_WEIGHT, Decimal("70.0005"), "kg"))
    assert str(reading.components["body_weight"].value) == "70.001"


# --- problems, one realistic bad input each ---------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (heart_rate(unit="kg"), "body.heart_rate.unit"),
        (heart_rate(unit="bpm"), "body.heart_rate.unit"),
        (
            blood_pressure(unit="mm[hg]"),
            "body.systolic_blood_pressure.unit",
        ),  # UCUM is case-sensitive
        (single(ReadingKind.BLOOD_GLUCOSE, 100, "mg/dl"), "body.blood_glucose.unit"),
        (
            single(ReadingKind.OXYGEN_SATURATION, Decimal("0.97"), "1"),
            "body.oxygen_saturation.unit",
        ),
        (
            item("HEART_RATE", {"heart_rate": {"value": 72}, "effective_time_frame": at()}),
            "body.heart_rate.unit",
        ),
    ],
)
def test_a_wrong_or_missing_unit_is_invalid_unit(raw: object, field: str) -> None:
    problem = rejected(raw)
    assert problem.code is ReadingProblem.INVALID_UNIT
    assert problem.field == field


def test_the_unit_message_lists_what_is_accepted_without_echoing_the_input() -> None:
    problem = rejected(heart_rate(unit="Jane Doe"))
    assert "Jane" not in problem.message
    assert "beats/min" in problem.message


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (blood_pressure(120, 120), "body"),
        (blood_pressure(80, 120), "body"),
        (blood_pressure(350, 80), "body.systolic_blood_pressure"),
        (blood_pressure(120, 10), "body.diastolic_blood_pressure"),
        (heart_rate(19), "body.heart_rate"),
        (heart_rate(301), "body.heart_rate"),
        (steps(-1), "body.step_count"),
        (steps(100_001), "body.step_count"),
        (steps(Decimal("3000.5")), "body.step_count"),
        (single(ReadingKind.BODY_WEIGHT, 600, "kg"), "body.body_weight"),
        (single(ReadingKind.BODY_WEIGHT, 500, "g"), "body.body_weight"),
        (single(ReadingKind.BLOOD_GLUCOSE, 60, "mmol/L"), "body.blood_glucose"),
        (single(ReadingKind.OXYGEN_SATURATION, 101, "%"), "body.oxygen_saturation"),
        (single(ReadingKind.BODY_TEMPERATURE, 37, "F"), "body.body_temperature"),
        (heart_rate(Decimal("1E+10")), "body.heart_rate.value"),
        (heart_rate(10**7), "body.heart_rate.value"),
    ],
)
def test_an_implausible_value_is_rejected(raw: object, field: str) -> None:
    problem = rejected(raw)
    assert problem.code is ReadingProblem.IMPLAUSIBLE_VALUE
    assert problem.field == field


def test_range_limits_are_inclusive_on_the_canonical_value() -> None:
    assert parse(heart_rate(300)).components["heart_rate"].value == 300
    assert parse(steps(0)).components["step_count"].value == 0
    assert parse(steps(Decimal("-0"))).canonical()["components"] == {
        "step_count": {"value": "0", "unit": "{steps}", "original_value": "-0", "original_unit": ""}
    }


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (heart_rate(frame=at("2026-03-29T09:00:00")), "body.effective_time_frame.date_time"),
        (heart_rate(frame=at("2026-03-29 09:00")), "body.effective_time_frame.date_time"),
        (
            steps(frame=between(START, "2026-03-29T09:00:00.250")),
            "body.effective_time_frame.time_interval.end_date_time",
        ),
        ({**heart_rate(), "deviceTime": "2026-03-29T09:00:00"}, "deviceTime"),
    ],
)
def test_a_time_without_offset_is_missing_offset(raw: object, field: str) -> None:
    problem = rejected(raw)
    assert problem.code is ReadingProblem.MISSING_OFFSET
    assert problem.field == field


FRAME = "body.effective_time_frame"
INTERVAL = f"{FRAME}.time_interval"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (steps(frame=between(END, START)), INTERVAL),
        (steps(frame=between("2026-03-28T04:00:00Z", "2026-03-29T10:00:00Z")), INTERVAL),  # 30 h
        (steps(frame=at()), FRAME),
        (heart_rate(frame=at("yesterday")), f"{FRAME}.date_time"),
        (heart_rate(frame=at("2026-13-01T00:00:00Z")), f"{FRAME}.date_time"),
        (heart_rate(frame=at("2026-03-29T09:00:00+25:00")), f"{FRAME}.date_time"),
        (heart_rate(frame=at("1999-12-31T23:59:59Z")), f"{FRAME}.date_time"),
        (heart_rate(frame=at("0001-01-01T00:00:00+01:00")), f"{FRAME}.date_time"),
        (heart_rate(frame=at("2026-03-29T12:10:01Z")), f"{FRAME}.date_time"),  # > 10 min ahead
        (heart_rate(frame=at("9999-12-31T23:59:59-14:00")), f"{FRAME}.date_time"),
        (heart_rate(frame={"time_interval": {"start_date_time": START}}), INTERVAL),
        (heart_rate(frame={"date_time": AT, "time_interval": {}}), FRAME),
        (item("HEART_RATE", {"heart_rate": uv(72, "/min")}), FRAME),
        ({**heart_rate(), "deviceTime": "9999-12-31T23:59:59-14:00"}, "deviceTime"),
        ({**heart_rate(), "deviceTime": "0001-01-01T00:00:00+01:00"}, "deviceTime"),
        ({**heart_rate(), "deviceTime": "2026-02-30T09:00:00Z"}, "deviceTime"),
    ],
)
def test_a_bad_time_is_invalid_time(raw: object, field: str) -> None:
    problem = rejected(raw)
    assert problem.code is ReadingProblem.INVALID_TIME
    assert problem.field == field


def test_a_little_device_clock_lead_is_tolerated_and_configurable() -> None:
    ahead = heart_rate(frame=at("2026-03-29T12:10:00Z"))
    assert parse(ahead).effective_start == NOW + timedelta(minutes=10)
    with pytest.raises(ReadingRejected):
        parse_reading(ahead, now=NOW, future_tolerance=timedelta(minutes=1))


def test_a_24_hour_step_interval_is_accepted() -> None:
    reading = parse(steps(frame=between("2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00")))
    assert reading.effective_end is not None
    assert reading.effective_end - reading.effective_start == timedelta(hours=24)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (
            item(
                "BLOOD_PRESSURE",
                {"systolic_blood_pressure": uv(120, "mmHg"), "effective_time_frame": at()},
            ),
            "body.diastolic_blood_pressure",
        ),
        (item("HEART_RATE", {"effective_time_frame": at()}), "body.heart_rate"),
        (
            item("STEP_COUNT", {"step_count": None, "effective_time_frame": between()}),
            "body.step_count",
        ),
    ],
)
def test_a_missing_component_is_missing_component(raw: object, field: str) -> None:
    problem = rejected(raw)
    assert problem.code is ReadingProblem.MISSING_COMPONENT
    assert problem.field == field


@pytest.mark.parametrize("source_id", [None, "", "   "])
def test_a_missing_source_id_is_missing_source_id(source_id: object) -> None:
    raw = {**heart_rate(), "sourceId": source_id}
    problem = rejected(raw)
    assert problem.code is ReadingProblem.MISSING_SOURCE_ID
    assert problem.field == "sourceId"
    without = heart_rate()
    del without["sourceId"]
    assert rejected(without).code is ReadingProblem.MISSING_SOURCE_ID


@pytest.mark.parametrize("kind", ["SLEEP_DURATION", "heart_rate", "heart-rate", ""])
def test_an_unknown_kind_is_unknown_kind(kind: str) -> None:
    problem = rejected(item(kind, OMH_BODIES[ReadingKind.HEART_RATE]))
    assert problem.code is ReadingProblem.UNKNOWN_KIND
    assert problem.field == "kind"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (["HEART_RATE", 72], "item"),
        ("HEART_RATE", "item"),
        ({"sourceId": "x", "body": {}}, "kind"),
        ({"kind": "HEART_RATE", "sourceId": "x"}, "body"),
        (item("HEART_RATE", []), "body"),  # type: ignore[arg-type]
        (heart_rate(True), "body.heart_rate.value"),
        (heart_rate("72"), "body.heart_rate.value"),
        (heart_rate(None), "body.heart_rate.value"),
        (heart_rate("NaN"), "body.heart_rate.value"),
        (heart_rate("Infinity"), "body.heart_rate.value"),
        (heart_rate(float("nan")), "body.heart_rate.value"),
        (heart_rate(float("inf")), "body.heart_rate.value"),
        (heart_rate(Decimal("NaN")), "body.heart_rate.value"),
        (heart_rate(Decimal("sNaN")), "body.heart_rate.value"),
        (heart_rate(Decimal("-Infinity")), "body.heart_rate.value"),
        (heart_rate(Decimal("72.0000000000000000001")), "body.heart_rate.value"),
        (heart_rate(10**30), "body.heart_rate.value"),
        (heart_rate(unit=42), "body.heart_rate.unit"),
        (steps(False), "body.step_count"),
        (item("HEART_RATE", {"heart_rate": 72, "effective_time_frame": at()}), "body.heart_rate"),
        (heart_rate(frame=at(1774767600)), f"{FRAME}.date_time"),
        (heart_rate(frame=["2026-03-29T09:00:00Z"]), FRAME),
        ({**heart_rate(), "sourceId": 12345}, "sourceId"),
        ({**heart_rate(), "sourceId": "x" * 201}, "sourceId"),
        ({**heart_rate(), "sourceId": "rec\n9"}, "sourceId"),
        ({**heart_rate(), "deviceTime": 1774767600}, "deviceTime"),
    ],
)
def test_a_wrong_type_or_structure_is_invalid_shape(raw: object, field: str) -> None:
    problem = rejected(raw)
    assert problem.code is ReadingProblem.INVALID_SHAPE
    assert problem.field == field


def test_a_source_id_of_200_characters_is_kept_verbatim() -> None:
    source_id = " watch:" + "x" * 193
    assert parse({**heart_rate(), "sourceId": source_id}).source_id == source_id


def test_messages_never_echo_what_was_sent() -> None:
    personal = "Jane Doe 1970-01-01"
    cases: list[object] = [
        heart_rate(unit=personal),
        heart_rate(value=personal),
        item(personal, OMH_BODIES[ReadingKind.HEART_RATE]),
        heart_rate(frame=at(personal)),
        {**heart_rate(), "sourceId": personal * 20},
    ]
    for raw in cases:
        problem = rejected(raw)
        assert "Jane" not in problem.message
        assert "Jane" not in str(problem)


# --- times, offsets and clock skew ------------------------------------------------------------


def test_the_device_offset_is_kept() -> None:
    reading = parse(
        {
            **heart_rate(frame=at("2026-03-29T06:00:00.250-05:00")),
            "deviceTime": "2026-03-29T06:00:05-05:00",
        }
    )
    assert reading.effective_start.utcoffset() == timedelta(hours=-5)
    assert reading.effective_start == datetime(2026, 3, 29, 11, 0, 0, 250_000, tzinfo=UTC)
    assert reading.device_time is not None
    assert reading.device_time.utcoffset() == timedelta(hours=-5)


def test_z_and_lower_case_rfc3339_are_utc() -> None:
    assert parse(
        heart_rate(frame=at("2026-03-29t07:00:00z"))
    ).effective_start.utcoffset() == timedelta(0)
    assert parse(heart_rate(frame=at("2026-03-29T07:00:00Z"))).effective_key == datetime(
        2026, 3, 29, 7, 0, tzinfo=UTC
    )


def test_clock_skew_is_device_minus_server_time() -> None:
    device = datetime(2026, 3, 29, 14, 7, tzinfo=timezone(timedelta(hours=2)))
    assert clock_skew(device, NOW) == timedelta(minutes=7)
    assert clock_skew(NOW - timedelta(minutes=3), NOW) == timedelta(minutes=-3)


def test_skew_beyond_the_threshold_is_flagged_not_rejected() -> None:
    assert timedelta(minutes=5) == CLOCK_SKEW_THRESHOLD
    assert not skew_flag(NOW + CLOCK_SKEW_THRESHOLD, NOW)
    assert not skew_flag(NOW - CLOCK_SKEW_THRESHOLD, NOW)
    assert skew_flag(NOW + CLOCK_SKEW_THRESHOLD + timedelta(seconds=1), NOW)
    assert skew_flag(NOW - timedelta(hours=3), NOW)
    assert not skew_flag(None, NOW)
    assert skew_flag(NOW + timedelta(minutes=2), NOW, threshold=timedelta(minutes=1))


def test_a_reading_from_a_device_with_a_reset_clock_is_accepted_and_flagged() -> None:
    reading = parse({**heart_rate(), "deviceTime": "1970-01-01T00:00:00Z"})
    assert reading.clock_skewed(NOW)
    assert not parse({**heart_rate(), "deviceTime": "2026-03-29T14:02:00+02:00"}).clock_skewed(NOW)
    assert not parse(heart_rate()).clock_skewed(NOW)


def test_naive_server_times_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="now"):
        parse_reading(heart_rate(), now=datetime(2026, 3, 29, 12, 0))
    with pytest.raises(ValueError, match="received_at"):
        clock_skew(NOW, datetime(2026, 3, 29, 12, 0))


# --- the reading as a value ---------------------------------------------------------------------


def test_canonical_is_plain_stable_json() -> None:
    raw = {**blood_pressure(), "deviceTime": "2026-03-29T09:00:01+02:00"}
    first, second = parse(raw), parse(json.loads(json.dumps(raw)))
    assert first == second
    assert hash(first) == hash(second)
    assert first.canonical() == {
        "kind": "BLOOD_PRESSURE",
        "source_id": "watch-123:rec-9",
        "components": {
            "diastolic": {
                "value": "80.000",
                "unit": "mm[Hg]",
                "original_value": "80",
                "original_unit": "mmHg",
            },
            "systolic": {
                "value": "120.000",
                "unit": "mm[Hg]",
                "original_value": "120",
                "original_unit": "mmHg",
            },
        },
        "effective_start": "2026-03-29T09:00:00+02:00",
        "effective_end": None,
        "device_time": "2026-03-29T09:00:01+02:00",
    }
    assert json.dumps(first.canonical(), sort_keys=True) == json.dumps(
        second.canonical(), sort_keys=True
    )


def test_a_reading_cannot_be_changed_through_its_components() -> None:
    reading = parse(heart_rate())
    with pytest.raises(TypeError):
        reading.components["heart_rate"] = reading.components["heart_rate"]  # type: ignore[index]
