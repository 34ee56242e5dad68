"""VS, Vital Signs: one row per component of each accepted reading that is not deleted.

Readings quarantined for review or rejected on review are left out. Blood pressure gives a
SYSBP and a DIABP row sharing VSGRPID (the per-subject number of the reading). VSORRES is the
value exactly as sent, VSSTRESC/VSSTRESN the canonical value (trailing zeros dropped); both
units are CDISC UNIT terms (beats/min, mmHg, kg, LB, mmol/L, %, C, ...; a step count has
none), where FHIR keeps UCUM. VSDTC is the effective time (an interval's start) with the
device's offset, to the second, VSENDTC an interval's end. VSSPID is the device's own record
id. SUPPVS (IDVAR VSGRPID) flags readings taken under a consent version since replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from domain.readings import SPECS, ReadingKind
from infra.exports.model import Subject
from infra.exports.sdtm.domain import Domain, Output, Qualifier
from infra.exports.sdtm.study import SubjectContext, dtc_text, plain_text
from infra.exports.sdtm.terms import vs_unit
from infra.exports.sdtm.variables import identifiers, sequence, var


class VsTest(NamedTuple):
    component: str  # the key of Reading.components
    testcd: str
    test: str


VS_TESTS: Mapping[ReadingKind, tuple[VsTest, ...]] = {
    ReadingKind.HEART_RATE: (VsTest("heart_rate", "HR", "Heart Rate"),),
    ReadingKind.BLOOD_PRESSURE: (
        VsTest("systolic", "SYSBP", "Systolic Blood Pressure"),
        VsTest("diastolic", "DIABP", "Diastolic Blood Pressure"),
    ),
    ReadingKind.STEP_COUNT: (VsTest("step_count", "STEPS", "Step Count"),),
    ReadingKind.BODY_WEIGHT: (VsTest("body_weight", "WEIGHT", "Weight"),),
    ReadingKind.BLOOD_GLUCOSE: (VsTest("blood_glucose", "GLUC", "Glucose"),),
    ReadingKind.OXYGEN_SATURATION: (VsTest("oxygen_saturation", "OXYSAT", "Oxygen Saturation"),),
    ReadingKind.BODY_TEMPERATURE: (VsTest("body_temperature", "TEMP", "Temperature"),),
}
_TESTS = {kind.value: tests for kind, tests in VS_TESTS.items()}
_RESULT = "Result Qualifier"


class VitalSigns(Domain):
    name = "VS"
    label = "Vital Signs"
    klass = "FINDINGS"
    structure = "One record per vital sign measurement per time point per visit per subject"
    keys = ("STUDYID", "USUBJID", "VSTESTCD", "VSDTC", "VSSPID")
    idvar = "VSGRPID"
    variables = (
        *identifiers("VS"),
        sequence("VS", "1.. per subject: readings by effective time, then components."),
        var(
            "VSGRPID",
            "Group ID",
            "Per-subject number of the reading; SYSBP and DIABP share it.",
            role="Identifier",
        ),
        var(
            "VSSPID",
            "Sponsor-Defined Identifier",
            "The device's own record id (source id).",
            role="Identifier",
            origin="Collected",
        ),
        var(
            "VSTESTCD",
            "Vital Signs Test Short Name",
            "See codes.csv.",
            role="Topic",
            core="Req",
            origin="Assigned",
        ),
        var(
            "VSTEST",
            "Vital Signs Test Name",
            "See codes.csv.",
            role="Synonym Qualifier",
            core="Req",
            origin="Assigned",
        ),
        var(
            "VSORRES",
            "Result or Finding in Original Units",
            "The value exactly as the device sent it.",
            role=_RESULT,
            core="Exp",
            origin="Collected",
        ),
        var(
            "VSORRESU",
            "Original Units",
            "The unit as sent, as a CDISC UNIT term; empty for a step count.",
            role="Variable Qualifier",
            core="Exp",
            origin="Collected",
        ),
        var(
            "VSSTRESC",
            "Character Result/Finding in Std Format",
            "Canonical value, no trailing 0s.",
            role=_RESULT,
            core="Exp",
        ),
        var(
            "VSSTRESN",
            "Numeric Result/Finding in Standard Units",
            "Canonical value.",
            role=_RESULT,
            core="Exp",
            data_type="float",
        ),
        var(
            "VSSTRESU",
            "Standard Units",
            "Canonical unit of the kind, a CDISC UNIT term.",
            role="Variable Qualifier",
            core="Exp",
        ),
        var(
            "VSLOBXFL",
            "Last Observation Before Exposure Flag",
            "Empty: Hearth records no study treatment.",
            role="Record Qualifier",
            core="Exp",
        ),
        var(
            "VISITNUM",
            "Visit Number",
            "Empty: readings come from home, not from visits.",
            role="Timing",
            core="Exp",
            data_type="float",
        ),
        var(
            "VSDTC",
            "Date/Time of Measurements",
            "Effective time (interval start) with the device's offset.",
            role="Timing",
            core="Exp",
            origin="Collected",
            data_type="datetime",
        ),
        var(
            "VSENDTC",
            "End Date/Time of Observation",
            "Interval end (step counts); empty for a point in time. A timing variable of the "
            "SDTM Findings class.",
            role="Timing",
            origin="Collected",
            data_type="datetime",
        ),
        var(
            "VSDY",
            "Study Day of Vital Signs",
            "From VSDTC's local date and RFSTDTC.",
            role="Timing",
            data_type="integer",
        ),
    )
    qualifiers = (
        Qualifier(
            "VSCONSUP",
            "Collected Under Superseded Consent",
            "Derived",
            "Y: taken under a consent version replaced since.",
        ),
    )

    async def write(self, who: SubjectContext, subject: Subject, out: Output) -> None:
        study_id, usubjid, row = who.study_id, who.usubjid, out.row
        seq = 0
        group = 0
        async for batch in subject.reading_batches():
            for reading in batch:
                if reading.deleted or not reading.accepted:
                    continue
                group += 1
                start = dtc_text(reading.start)
                end = dtc_text(reading.end) if reading.end else ""
                day = who.day_of(start)
                for test, (value, unit, original, sent) in zip(
                    _TESTS[reading.kind], reading.components(), strict=True
                ):
                    seq += 1
                    standard = plain_text(value)
                    row(
                        (
                            study_id,
                            "VS",
                            usubjid,
                            seq,
                            group,
                            reading.source_id,
                            test.testcd,
                            test.test,
                            original,
                            vs_unit(sent),
                            standard,
                            standard,
                            vs_unit(unit),
                            "",
                            "",
                            start,
                            end,
                            day,
                        )
                    )
                if reading.consent_superseded:
                    out.supp(who, group, "VSCONSUP", "Y")


def vs_ranges() -> dict[str, str]:
    """VSTESTCD -> the plausible range of its canonical value, for codes.csv."""
    return {
        t.testcd: f"{c.low}-{c.high}"
        for kind, tests in VS_TESTS.items()
        for t, c in zip(tests, SPECS[kind].components, strict=True)
    }
