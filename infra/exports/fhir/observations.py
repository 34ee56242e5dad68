"""Observations, one per accepted device reading: the hot path of the export.

Everything that is the same for every Observation of a kind (category, code, component codes)
and of a subject or device (their references) is serialised once; a line is one template
filled with a reading row's ready-made text (`infra/exports/readings.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.readings import ReadingKind
from infra.exports.fhir.jsontext import (
    CATEGORY_SYSTEM,
    DEVICE_SYSTEM,
    LOINC,
    UCUM,
    concept,
    dumps,
    patient,
    string,
)
from infra.exports.readings import ReadingRow

_DEVICE_CACHE = 10_000  # device fragments kept, whatever the study


@dataclass(frozen=True)
class _Kind:
    """What is the same for every Observation of one kind, already serialised."""

    head: str  # "category" and "code" members
    codes: tuple[str, ...]  # serialised component codes; () when the value is the quantity


def _kind(category: str, code: str, display: str, *parts: tuple[str, str]) -> _Kind:
    head = (
        f'"category":{dumps([concept(CATEGORY_SYSTEM, category)])},'
        f'"code":{dumps(concept(LOINC, code, display))}'
    )
    return _Kind(head, tuple(dumps(concept(LOINC, c, d)) for c, d in parts))


_TABLE = {
    ReadingKind.HEART_RATE: _kind("vital-signs", "8867-4", "Heart rate"),
    ReadingKind.BLOOD_PRESSURE: _kind(
        "vital-signs",
        "85354-9",
        "Blood pressure panel with all children optional",
        ("8480-6", "Systolic blood pressure"),
        ("8462-4", "Diastolic blood pressure"),
    ),
    ReadingKind.STEP_COUNT: _kind(
        "activity",
        "55423-8",
        "Number of steps in unspecified time Pedometer",
    ),
    ReadingKind.BODY_WEIGHT: _kind("vital-signs", "29463-7", "Body weight"),
    ReadingKind.BLOOD_GLUCOSE: _kind(
        "vital-signs",
        "15074-8",
        "Glucose [Moles/volume] in Blood",
    ),
    ReadingKind.OXYGEN_SATURATION: _kind(
        "vital-signs",
        "59408-5",
        "Oxygen saturation in Arterial blood by Pulse oximetry",
    ),
    ReadingKind.BODY_TEMPERATURE: _kind(
        "vital-signs",
        "8310-5",
        "Body temperature",
    ),
}


_KINDS = {k.value: v for k, v in _TABLE.items()}


class Observations:
    """Observation lines from reading rows, with the repeated fragments cached."""

    def __init__(self) -> None:
        self._subject = ("", "")
        self._units: dict[str, str] = {}
        self._devices: dict[str, tuple[str, str]] = {}

    def line(self, subject_id: str, row: ReadingRow) -> str:
        kind = _KINDS[row.kind]
        if row.end:
            effective = f'"effectivePeriod":{{"start":"{row.start}","end":"{row.end}"}}'
        else:
            effective = f'"effectiveDateTime":"{row.start}"'
        source_system, device = self._device(row.device_id)
        status = "entered-in-error" if row.deleted else "final"
        return (
            f'{{"resourceType":"Observation","id":"{row.id}",'
            f'"identifier":[{{{source_system},"value":{string(row.source_id)}}}],'
            f'"status":"{status}",{kind.head},"subject":{self._subject_of(subject_id)},'
            f'{effective},"issued":"{row.received}",{self._values(kind, row)},'
            f'"device":{device}}}'
        )

    def _device(self, device_id: str) -> tuple[str, str]:
        """The source-id system of a device and the device's logical reference."""
        found = self._devices.get(device_id)
        if found is None:
            if len(self._devices) > _DEVICE_CACHE:
                self._devices.clear()
            found = self._devices[device_id] = (
                f'"system":"{DEVICE_SYSTEM}:{device_id}"',
                dumps({"identifier": {"system": DEVICE_SYSTEM, "value": device_id}}),
            )
        return found

    def _values(self, kind: _Kind, row: ReadingRow) -> str:
        first = self._quantity(row.value, row.unit)
        if not kind.codes:
            return f'"valueQuantity":{first}'
        second = self._quantity(row.value2, row.unit2)
        systolic, diastolic = kind.codes
        return (
            f'"component":[{{"code":{systolic},"valueQuantity":{first}}},'
            f'{{"code":{diastolic},"valueQuantity":{second}}}]'
        )

    def _quantity(self, value: str, unit: str) -> str:
        fragment = self._units.get(unit)
        if fragment is None:
            text = string(unit)
            fragment = self._units[unit] = f'"unit":{text},"system":"{UCUM}","code":{text}'
        return f'{{"value":{value},{fragment}}}'

    def _subject_of(self, subject_id: str) -> str:
        if self._subject[0] != subject_id:  # subjects come one after the other: keep one
            self._subject = (subject_id, dumps(patient(subject_id)))
        return self._subject[1]
