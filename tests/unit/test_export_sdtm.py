"""The SDTM-style CSV export, written from the in-memory sample snapshot and read back."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.devices import ReadingStatus, StoredReading
from domain.diaries import DiaryEntry, EntryStatus
from domain.ids import VisitId
from domain.questionnaires import (
    Choice,
    Item,
    ItemType,
    PublishedQuestionnaire,
    QuestionnaireVersion,
)
from domain.readings import SPECS
from domain.schedules import ZoneChange
from domain.visits import Visit, VisitOutcome, VisitStatus
from infra.exports.model import Meta, Subject, WrittenFile
from infra.exports.sdtm import (
    DATASETS,
    MAX_LABEL,
    VS_TESTS,
    SdtmDialect,
    chosen_visits,
    plain_number,
    qs_results,
    qs_test_codes,
    study_day,
    write_sdtm,
)
from infra.exports.sdtm.terms import vs_unit
from tests.export_sample import T0, SampleSnapshot, sample_snapshot

TESTCD = re.compile(r"^[A-Z_][A-Z0-9_]{0,7}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2})?$")  # SDTM dates without a day (or month)
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}:\d{2}$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
DATA = (
    "DM",
    "DS",
    "SV",
    "QS",
    "VS",
    "AE",
    "CM",
    "DV",
    "SUPPSV",
    "SUPPQS",
    "SUPPVS",
    "SUPPCM",
    "SUPPDV",
)
FILES = ("define.csv", "codes.csv", *(f"{name}.csv" for name in DATA))  # and define.xml

Rows = list[dict[str, str]]


@dataclasses.dataclass
class Export:
    directory: Path
    files: list[WrittenFile]
    progress: list[int]

    def read(self, name: str) -> Rows:
        return read(self.directory / name)

    def header(self, name: str) -> list[str]:
        with (self.directory / name).open(encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle, dialect=SdtmDialect))


def read(path: Path) -> Rows:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, dialect=SdtmDialect)
        rows = list(reader)
    for row in rows:  # no missing or extra fields
        assert None not in row
        assert None not in row.values()
    return rows


def _empty(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    assert not any(directory.iterdir())
    return directory


async def export(snapshot: SampleSnapshot, directory: Path) -> Export:
    calls: list[int] = []
    files = await write_sdtm(snapshot, _empty(directory), calls.append)
    return Export(directory, files, calls)


async def subjects_of(snapshot: SampleSnapshot) -> list[Subject]:
    return [subject async for subject in snapshot.subjects()]


def stream(items: Sequence[StoredReading]) -> Callable[[], AsyncIterator[StoredReading]]:
    async def readings() -> AsyncIterator[StoredReading]:
        for item in items:
            yield item

    return readings


async def readings_of(subject: Subject) -> list[StoredReading]:
    return [reading async for reading in subject.readings()]


@pytest.fixture
def snapshot() -> SampleSnapshot:
    return sample_snapshot()


@pytest.fixture
async def written(snapshot: SampleSnapshot, tmp_path: Path) -> Export:
    return await export(snapshot, tmp_path / "sdtm")


# -- files -----------------------------------------------------------------------------------


async def test_writes_the_files_it_reports(written: Export) -> None:
    names = ["define.csv", "codes.csv", "define.xml", *FILES[2:]]
    assert [f.name for f in written.files] == names
    assert sorted(p.name for p in written.directory.iterdir()) == sorted(names)
    for file in written.files:
        data = (written.directory / file.name).read_bytes()
        assert file.bytes == len(data)
        assert file.sha256 == hashlib.sha256(data).hexdigest()
        if file.name != "define.xml":
            assert file.rows == len(written.read(file.name))
            assert file.rows > 0


async def test_progress_counts_the_data_rows(written: Export) -> None:
    data = {f.name: f.rows for f in written.files}
    assert sum(written.progress) == sum(data[f"{n}.csv"] for n in DATA)
    assert all(n > 0 for n in written.progress)


async def test_files_are_utf8_crlf_csv_without_bom(written: Export) -> None:
    for name in FILES:
        data = (written.directory / name).read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf")
        data.decode("utf-8")
        assert data.endswith(b"\r\n")
        assert data.count(b"\n") == data.count(b"\r\n")  # no bare LF: every line is CRLF


async def test_output_is_deterministic(snapshot: SampleSnapshot, tmp_path: Path) -> None:
    first = await export(snapshot, tmp_path / "a")
    second = await export(snapshot, tmp_path / "b")
    assert first.files == second.files


# -- variables and the dictionary ------------------------------------------------------------


EXPECTED_HEADERS = {  # SDTMIG 3.4 order (tests/test_sdtmig.py checks them against the IG)
    "DM": "STUDYID DOMAIN USUBJID SUBJID RFSTDTC RFENDTC RFXSTDTC RFXENDTC RFICDTC RFPENDTC "
    "DTHDTC DTHFL SITEID AGE AGEU SEX RACE ARMCD ARM ACTARMCD ACTARM ARMNRS ACTARMUD COUNTRY "
    "DMDTC",
    "DS": "STUDYID DOMAIN USUBJID DSSEQ DSTERM DSDECOD DSCAT DSSTDTC DSSTDY",
    "SV": "STUDYID DOMAIN USUBJID VISITNUM VISIT SVPRESP SVOCCUR SVREASOC SVCNTMOD VISITDY "
    "SVSTDTC SVENDTC SVSTDY SVENDY SVUPDES",
    "QS": "STUDYID DOMAIN USUBJID QSSEQ QSGRPID QSTESTCD QSTEST QSCAT QSSCAT QSORRES QSORRESU "
    "QSSTRESC QSSTRESN QSSTRESU QSLOBXFL VISITNUM QSDTC QSDY QSTPTREF QSRFTDTC",
    "VS": "STUDYID DOMAIN USUBJID VSSEQ VSGRPID VSSPID VSTESTCD VSTEST VSORRES VSORRESU "
    "VSSTRESC VSSTRESN VSSTRESU VSLOBXFL VISITNUM VSDTC VSENDTC VSDY",
}


async def test_headers_use_sdtm_names_in_order(written: Export) -> None:
    for dataset, expected in EXPECTED_HEADERS.items():
        assert written.header(f"{dataset}.csv") == expected.split()
    dm = written.header("DM.csv")
    assert "BRTHDTC" not in dm  # the date of birth is never exported, only the age


async def test_define_describes_every_variable_in_order(written: Export) -> None:
    define = written.read("define.csv")
    assert written.header("define.csv") == [
        "DATASET",
        "VARIABLE",
        "LABEL",
        "TYPE",
        "ORIGIN",
        "NOTES",
    ]
    for dataset in DATASETS:
        described = [row["VARIABLE"] for row in define if row["DATASET"] == dataset]
        assert described == written.header(f"{dataset}.csv")
    assert {row["DATASET"] for row in define} == set(DATASETS)
    for row in define:
        assert 0 < len(row["LABEL"]) <= MAX_LABEL, row
        assert row["LABEL"].isascii()
        assert row["TYPE"] in {"Char", "Num"}
        assert row["ORIGIN"] in {"Assigned", "Collected", "Derived"}
        assert row["NOTES"]
        assert len(row["VARIABLE"]) <= 8
        assert re.fullmatch(r"[A-Z][A-Z0-9]*", row["VARIABLE"])
    numeric = {(r["DATASET"], r["VARIABLE"]) for r in define if r["TYPE"] == "Num"}
    assert ("VS", "VSSTRESN") in numeric
    assert ("QS", "QSSEQ") in numeric
    assert ("VS", "VSORRES") not in numeric


async def test_numeric_variables_hold_numbers(written: Export) -> None:
    define = written.read("define.csv")
    for dataset in DATASETS:
        numeric = [r["VARIABLE"] for r in define if r["DATASET"] == dataset and r["TYPE"] == "Num"]
        for row in written.read(f"{dataset}.csv"):
            for name in numeric:
                if row[name]:
                    Decimal(row[name])  # parses


async def test_codes_describe_every_test_code_used(written: Export) -> None:
    codes = written.read("codes.csv")
    assert written.header("codes.csv")[:4] == ["DATASET", "VARIABLE", "CODE", "DECODE"]
    for dataset in ("QS", "VS"):
        listed = {
            (r["CODE"], r["DECODE"], r["CATEGORY"])
            for r in codes
            if r["VARIABLE"] == f"{dataset}TESTCD"
        }
        assert len({code for code, _, _ in listed}) == len(listed)  # a code once per dataset
        for row in written.read(f"{dataset}.csv"):
            category = row["QSCAT"] if dataset == "QS" else ""
            assert (row[f"{dataset}TESTCD"], row[f"{dataset}TEST"], category) in listed
    for row in codes:
        if row["VARIABLE"].endswith("TESTCD"):
            assert TESTCD.match(row["CODE"]), row
            assert len(row["DECODE"]) <= MAX_LABEL
    visits = [(r["CODE"], r["SOURCE"]) for r in codes if r["VARIABLE"] == "VISITNUM"]
    assert visits == [("1", "BASELINE"), ("2", "WEEK1")]
    free_text = [r for r in codes if r["SOURCE"] == "NOTE"]
    assert free_text == []  # free-text items get no test code


async def test_vs_test_codes_cover_every_reading_component() -> None:
    assert set(VS_TESTS) == set(SPECS)
    for kind, tests in VS_TESTS.items():
        assert [t.component for t in tests] == [c.name for c in SPECS[kind].components]
    codes = [t.testcd for tests in VS_TESTS.values() for t in tests]
    assert codes == ["HR", "SYSBP", "DIABP", "STEPS", "WEIGHT", "GLUC", "OXYSAT", "TEMP"]


# -- requirement 40 --------------------------------------------------------------------------


async def test_test_codes_and_labels_fit_sdtm(written: Export) -> None:
    for dataset in ("QS", "VS"):
        for row in written.read(f"{dataset}.csv"):
            assert TESTCD.match(row[f"{dataset}TESTCD"]), row
            assert 0 < len(row[f"{dataset}TEST"]) <= MAX_LABEL


async def test_sequence_numbers_run_per_subject(written: Export) -> None:
    for dataset in ("QS", "VS"):
        by_subject: dict[str, list[int]] = defaultdict(list)
        for row in written.read(f"{dataset}.csv"):
            by_subject[row["USUBJID"]].append(int(row[f"{dataset}SEQ"]))
        assert by_subject
        for numbers in by_subject.values():
            assert numbers == list(range(1, len(numbers) + 1))


async def test_one_sv_row_per_subject_and_visit(written: Export) -> None:
    rows = written.read("SV.csv")
    keys = Counter((row["USUBJID"], row["VISITNUM"]) for row in rows)
    assert keys
    assert set(keys.values()) == {1}


# -- datasets --------------------------------------------------------------------------------


async def test_dm_has_one_pseudonymous_row_per_subject(
    snapshot: SampleSnapshot, written: Export
) -> None:
    rows = {row["SUBJID"]: row for row in written.read("DM.csv")}
    subjects = {s.info.subject_id: s for s in await subjects_of(snapshot)}
    assert set(rows) == set(subjects)
    study = snapshot.meta.study.code
    for subject_id, row in rows.items():
        info = subjects[subject_id].info
        assert row["STUDYID"] == study
        assert row["DOMAIN"] == "DM"
        assert row["USUBJID"] == f"{study}-{subject_id}"
        assert row["SEX"] == "U"
        assert row["AGE"] == ("" if info.age is None else str(info.age))
    enrolled, withdrawn, screened = (rows[k] for k in ("K7Q2-9XHD", "M3TR-4PLW", "Z9XC-2VBN"))
    assert (enrolled["SITEID"], enrolled["COUNTRY"]) == ("BER", "DEU")
    assert (withdrawn["SITEID"], withdrawn["COUNTRY"]) == ("BOS", "USA")
    assert enrolled["RFSTDTC"] == T0.date().isoformat()
    assert enrolled["RFICDTC"] == "2026-02-21T09:00:00+01:00"  # T0 - 9 days, in Berlin
    assert withdrawn["RFICDTC"] == "2026-02-21T03:00:00-05:00"  # in Boston
    assert enrolled["RFPENDTC"] == ""
    assert withdrawn["RFPENDTC"] == withdrawn["RFENDTC"] == "2026-03-02T03:00:00-05:00"
    assert (enrolled["AGE"], enrolled["AGEU"]) == ("64", "YEARS")
    assert (screened["AGE"], screened["AGEU"]) == ("", "")
    assert (enrolled["ARMCD"], enrolled["ARM"]) == ("ACTIVE", "Active treatment")
    assert (enrolled["ACTARMCD"], enrolled["ACTARM"]) == ("ACTIVE", "Active treatment")
    assert enrolled["ARMNRS"] == ""
    assert (screened["ARMCD"], screened["ARMNRS"]) == ("", "NOT ASSIGNED")
    assert screened["RFSTDTC"] == screened["RFICDTC"] == ""
    assert DATETIME.match(screened["DMDTC"])


async def test_sv_takes_the_completed_or_latest_scheduled_visit(
    snapshot: SampleSnapshot, written: Export
) -> None:
    rows = [row for row in written.read("SV.csv") if row["USUBJID"].endswith("K7Q2-9XHD")]
    assert [(r["VISITNUM"], r["VISIT"], r["VISITDY"]) for r in rows] == [
        ("1", "Baseline", "1"),
        ("2", "Week 1", "8"),
    ]
    baseline, week = rows
    supp = _supp(written, "SUPPSV", "K7Q2-9XHD")
    baseline |= supp[baseline["VISITNUM"]]
    week |= supp[week["VISITNUM"]]
    assert (baseline["SVSTATUS"], baseline["SVOCCUR"], baseline["SVOUTCOM"]) == (
        "COMPLETED",
        "Y",
        "DONE",
    )
    assert baseline["SVPRESP"] == week["SVPRESP"] == "Y"
    assert baseline["SVSTDTC"] == "2026-03-02T09:00:00+01:00"
    assert baseline["SVENDTC"] == "2026-03-02T09:40:00+01:00"
    assert (baseline["SVSTDY"], baseline["SVENDY"]) == ("1", "1")
    assert baseline["SVCNTMOD"] == "REMOTE AUDIO VIDEO"
    # The cancelled week-1 visit (day 6) gives way to the rescheduled one (day 7).
    assert (week["SVSTATUS"], week["SVOCCUR"], week["SVREASOC"]) == ("SCHEDULED", "", "")
    assert week["SVSCHDTC"] == "2026-03-09T09:00:00+01:00"
    assert week["SVSTDTC"] == week["SVENDTC"] == week["SVSTDY"] == ""
    assert week["SVCNTMOD"] == "TELEPHONE CALL"


def _supp(written: Export, name: str, subject_id: str) -> dict[str, dict[str, str]]:
    """A SUPP-- dataset's values of one subject: IDVARVAL -> {QNAM: QVAL}."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for row in written.read(f"{name}.csv"):
        if row["USUBJID"].endswith(subject_id):
            found[row["IDVARVAL"]][row["QNAM"]] = row["QVAL"]
    return found


def _visits(subject: Subject) -> tuple[Visit, Visit, Visit]:
    baseline, cancelled, week = subject.visits
    assert cancelled.status is VisitStatus.CANCELLED
    assert week.status is VisitStatus.SCHEDULED
    return baseline, cancelled, week


async def test_chosen_visits_prefer_completed_then_latest(snapshot: SampleSnapshot) -> None:
    subject = (await subjects_of(snapshot))[0]
    baseline, cancelled, week = _visits(subject)
    later = dataclasses.replace(
        week, id=VisitId(uuid.uuid4()), starts_at=week.starts_at + timedelta(1)
    )
    done = dataclasses.replace(
        cancelled, id=VisitId(uuid.uuid4()), status=VisitStatus.COMPLETED, outcome=VisitOutcome.DONE
    )
    assert chosen_visits([cancelled, week])[week.definition_id] == [week]
    assert chosen_visits([week, cancelled, later])[week.definition_id] == [later]
    assert chosen_visits([later, done, cancelled])[week.definition_id] == [done]
    assert chosen_visits([cancelled])[week.definition_id] == [cancelled]
    chosen = chosen_visits([baseline, cancelled, week])
    assert set(chosen) == {baseline.definition_id, week.definition_id}
    again = dataclasses.replace(
        done, id=VisitId(uuid.uuid4()), starts_at=done.starts_at + timedelta(days=2)
    )
    # Both held visits are kept: a repeat is a visit too.
    assert chosen_visits([again, later, done])[week.definition_id] == [done, again]


async def test_a_repeated_visit_gets_its_own_row(snapshot: SampleSnapshot, tmp_path: Path) -> None:
    subjects = await subjects_of(snapshot)
    baseline, _, _ = _visits(subjects[0])
    again = dataclasses.replace(
        baseline, id=VisitId(uuid.uuid4()), starts_at=baseline.starts_at + timedelta(days=1)
    )
    subjects[0] = dataclasses.replace(subjects[0], visits=(baseline, again))
    written = await export(SampleSnapshot(snapshot.meta, subjects, {}), tmp_path)
    rows = [r for r in written.read("SV.csv") if r["USUBJID"].endswith("K7Q2-9XHD")]
    assert [(r["VISITNUM"], r["VISIT"]) for r in rows] == [
        ("1", "Baseline"),
        ("1.01", "Baseline (repeat 1)"),
    ]


async def test_sv_marks_visits_that_did_not_occur(snapshot: SampleSnapshot, tmp_path: Path) -> None:
    subjects = await subjects_of(snapshot)
    baseline, cancelled, _ = _visits(subjects[0])
    unreachable = dataclasses.replace(baseline, outcome=VisitOutcome.PARTICIPANT_UNREACHABLE)
    subjects[0] = dataclasses.replace(subjects[0], visits=(unreachable, cancelled))
    written = await export(SampleSnapshot(snapshot.meta, subjects, {}), tmp_path)
    supp = _supp(written, "SUPPSV", "K7Q2-9XHD")
    rows = [
        r | supp[r["VISITNUM"]]
        for r in written.read("SV.csv")
        if r["USUBJID"].endswith("K7Q2-9XHD")
    ]
    assert [(r["SVOCCUR"], r["SVREASOC"], r["SVSTATUS"]) for r in rows] == [
        ("N", "PARTICIPANT UNREACHABLE", "COMPLETED"),
        ("N", "CANCELLED", "CANCELLED"),
    ]


async def test_qs_rows_follow_the_accepted_answers(
    snapshot: SampleSnapshot, written: Export
) -> None:
    rows = [row for row in written.read("QS.csv") if row["USUBJID"].endswith("K7Q2-9XHD")]
    first = [r for r in rows if r["QSGRPID"] == "1"]
    got = [
        (r["QSTESTCD"], r["QSORRES"], r["QSSTRESC"], r["QSSTRESN"], r["QSORRESU"]) for r in first
    ]
    assert got == [
        ("MOOD", "GOOD", "GOOD", "", ""),
        ("WHERE", "HEAD", "HEAD", "", ""),  # one row per selected choice, in choice order
        ("WHERE", "BACK", "BACK", "", ""),
        ("SLEEP", "7", "7", "7", "h"),
        ("WEIGHT", "71.5", "71.5", "71.5", "kg"),
        ("PAIN", "4", "4", "4", ""),
        ("NAUSEA", "12.5", "12.5", "12.5", "mm"),
        ("ONSET", "2026-02-27", "2026-02-27", "", ""),
        ("PILL", "08:30:00", "08:30:00", "", ""),
        ("WOKE", "2026-03-02T06:45:00+01:00", "2026-03-02T06:45:00+01:00", "", ""),
    ]
    for row in first:
        assert row["QSCAT"] == "SYMPTOMS"
        assert row["QSSCAT"] == "1"
        assert row["QSDTC"] == "2026-03-02T09:20:00+01:00"
        assert row["QSDY"] == "1"
        assert row["QSTPTREF"] == "DIARY DUE"
        assert row["QSRFTDTC"] == "2026-03-02T09:00:00+01:00"
    assert {r["QSTEST"] for r in first if r["QSTESTCD"] == "PAIN"} == {"Pain now"}  # the question
    second = [r["QSTESTCD"] for r in rows if r["QSGRPID"] == "2"]
    assert second == ["MOOD", "SLEEP", "PAIN", "NAUSEA"]
    assert not any(r["QSTESTCD"] == "NOTE" for r in rows)


async def test_vs_matches_the_sample_readings(snapshot: SampleSnapshot, written: Export) -> None:
    rows = written.read("VS.csv")
    expected: list[dict[str, object]] = []
    for subject in await subjects_of(snapshot):
        usubjid = f"{snapshot.meta.study.code}-{subject.info.subject_id}"
        for group, stored in enumerate(await readings_of(subject), start=1):
            reading = stored.reading
            for test in VS_TESTS[reading.kind]:
                m = reading.components[test.component]
                end = reading.effective_end
                expected.append(
                    {
                        "USUBJID": usubjid,
                        "VSGRPID": str(group),
                        "VSSPID": reading.source_id,
                        "VSTESTCD": test.testcd,
                        "VSORRES": str(m.original_value),
                        "VSORRESU": vs_unit(m.original_unit),
                        "VSSTRESN": m.value,
                        "VSSTRESU": vs_unit(m.unit),
                        "VSDTC": reading.effective_start.isoformat(),
                        "VSENDTC": "" if end is None else end.isoformat(),
                    }
                )
    got = [
        {k: row[k] for k in expected[0]} | {"VSSTRESN": Decimal(row["VSSTRESN"])} for row in rows
    ]
    assert got == expected
    for row in rows:
        assert row["VSSTRESC"] == row["VSSTRESN"]
        assert re.fullmatch(r"-?\d+(\.\d*[1-9])?", row["VSSTRESN"])  # no exponent, no trailing 0
    assert len(rows) == 16  # 2 subjects x 7 readings, blood pressure twice
    first = [r for r in rows if r["USUBJID"].endswith("K7Q2-9XHD")]
    by_code = {r["VSTESTCD"]: r for r in first}
    assert by_code["SYSBP"]["VSORRES"] == "16"
    assert by_code["SYSBP"]["VSORRESU"] == "kPa"
    assert by_code["SYSBP"]["VSSTRESC"] == "120"  # the reported precision: whole kPa
    assert by_code["DIABP"]["VSSTRESN"] == "78.8"
    assert by_code["SYSBP"]["VSGRPID"] == by_code["DIABP"]["VSGRPID"]
    assert by_code["SYSBP"]["VSTEST"] == "Systolic Blood Pressure"
    assert by_code["HR"]["VSTEST"] == "Heart Rate"
    assert (by_code["WEIGHT"]["VSORRES"], by_code["WEIGHT"]["VSORRESU"]) == ("154.3", "LB")
    assert (by_code["HR"]["VSSTRESU"], by_code["SYSBP"]["VSSTRESU"]) == ("beats/min", "mmHg")
    assert (by_code["WEIGHT"]["VSSTRESC"], by_code["WEIGHT"]["VSSTRESU"]) == ("69.99", "kg")
    assert (by_code["GLUC"]["VSSTRESC"], by_code["GLUC"]["VSSTRESU"]) == ("5.44", "mmol/L")
    assert by_code["STEPS"]["VSDTC"] == "2026-03-02T11:00:00+00:00"
    assert by_code["STEPS"]["VSENDTC"] == "2026-03-02T12:00:00+00:00"
    assert by_code["HR"]["VSDTC"] == "2026-03-02T12:00:00+01:00"
    assert by_code["HR"]["VSENDTC"] == ""
    assert by_code["HR"]["VSDY"] == "1"


# -- time ------------------------------------------------------------------------------------


async def test_timestamps_carry_offsets_and_dates_are_plain(written: Export) -> None:
    checked = 0
    for dataset in DATASETS:
        for row in written.read(f"{dataset}.csv"):
            for name, value in row.items():
                if name.endswith("DTC") and value:
                    assert (
                        DATE.match(value) or DATETIME.match(value) or PARTIAL_DATE.match(value)
                    ), (name, value)
                    checked += 1
                if re.search(r"\d{4}-\d{2}-\d{2}T", value):
                    assert DATETIME.search(value), (name, value)
    assert checked > 50
    dm = written.read("DM.csv")
    assert all(DATE.match(r["RFSTDTC"]) for r in dm if r["RFSTDTC"])


def test_study_days_skip_day_zero() -> None:
    reference = date(2026, 3, 2)
    assert study_day(date(2026, 3, 2), reference) == 1
    assert study_day(date(2026, 3, 9), reference) == 8
    assert study_day(date(2026, 3, 1), reference) == -1
    assert study_day(date(2026, 3, 1), None) == ""


def test_plain_numbers_have_no_exponent_or_trailing_zeros() -> None:
    assert plain_number(Decimal("72.000")) == "72"
    assert plain_number(Decimal("1E+2")) == "100"
    assert plain_number(Decimal("0.500")) == "0.5"
    assert plain_number(Decimal("-0.000")) == "0"
    assert plain_number(Decimal("120.010")) == "120.01"


def test_free_text_answers_give_no_results() -> None:
    note = Item("NOTE", ItemType.FREE_TEXT, {"en": "Anything else?"})
    assert qs_results(note, "Carla lives at Hauptstraße 5") == []
    where = Item(
        "WHERE",
        ItemType.MULTIPLE_CHOICE,
        {"en": "Where?"},
        choices=(Choice("HEAD", {"en": "Head"}), Choice("BACK", {"en": "Back"})),
    )
    assert qs_results(where, ["BACK", "HEAD"]) == [("HEAD", "HEAD", ""), ("BACK", "BACK", "")]
    assert qs_results(where, []) == []


# -- pseudonymisation and filters ------------------------------------------------------------


def _internal_ids(
    meta: Meta, subjects: Sequence[Subject], readings: Sequence[StoredReading]
) -> set[str]:
    ids = {str(meta.export_id), str(meta.study.id)}
    ids |= {str(s.id) for s in meta.sites}
    ids |= {str(a.id) for a in meta.arms}
    ids |= {str(d.id) for d in meta.visit_definitions}
    ids |= {str(q.id) for q in meta.questionnaires}
    ids |= {str(c.id) for c in meta.consent_versions}
    ids |= {str(staff) for staff in meta.staff}
    for subject in subjects:
        ids.add(str(subject.info.id))
        ids |= {str(v.id) for v in subject.visits}
        ids |= {str(e.id) for e in subject.entries}
        ids |= {str(c.id) for c in subject.consents}
        ids |= {str(s.id) for s in subject.signatures}
        ids |= {str(e.id) for e in subject.events}
    for stored in readings:
        ids |= {str(stored.id), str(stored.device_id), str(stored.batch_id)}
    return ids


async def test_nothing_identifying_is_written(snapshot: SampleSnapshot, written: Export) -> None:
    subjects = await subjects_of(snapshot)
    readings = [r for s in subjects for r in await readings_of(s)]
    text = "\n".join((written.directory / name).read_text("utf-8") for name in FILES)
    for internal in _internal_ids(snapshot.meta, subjects, readings):
        assert internal not in text
        assert internal.replace("-", "") not in text
    assert not UUID.search(text)
    for name in ("Carla", "Coordinator", "Ines", "Vogel", "Charité", "Boston Clinic"):
        assert name not in text
    assert "Anything else" not in text  # the free-text item is not even described


async def test_leaves_out_quarantine_deleted_readings_and_free_text(
    snapshot: SampleSnapshot, tmp_path: Path
) -> None:
    subjects = await subjects_of(snapshot)
    subject = subjects[0]
    first = subject.entries[0]
    leaky = dataclasses.replace(
        first,
        id=uuid.uuid4(),
        answers={**first.answers, "NOTE": "Carla lives at Hauptstraße 5"},
        due_at=first.due_at + timedelta(days=5),
        completed_at=first.completed_at + timedelta(days=5),
        occurrence_key="2026-03-07T09:00",
    )
    quarantined = dataclasses.replace(
        first,
        id=uuid.uuid4(),
        answers={"MOOD": "BAD", "SLEEP": 23, "PAIN": 9, "NAUSEA": "99.5"},
        status=EntryStatus.QUARANTINED,
    )
    readings = await readings_of(subject)
    deleted = dataclasses.replace(
        readings[0],
        id=uuid.uuid4(),
        reading=dataclasses.replace(readings[0].reading, source_id="deleted-one"),
        deleted_at=T0 + timedelta(days=1),
        deleted_reason="wrong patient",
    )
    subjects[0] = dataclasses.replace(
        subject,
        entries=(*subject.entries, quarantined, leaky),
        readings=stream([deleted, *readings]),
    )
    written = await export(SampleSnapshot(snapshot.meta, subjects, {}), tmp_path)
    text = "\n".join((written.directory / name).read_text("utf-8") for name in FILES)
    assert "Carla" not in text
    assert "Hauptstra" not in text
    assert "deleted-one" not in text
    assert "wrong patient" not in text
    qs = [r for r in written.read("QS.csv") if r["USUBJID"].endswith("K7Q2-9XHD")]
    assert "99.5" not in {r["QSORRES"] for r in qs}
    assert [r["QSGRPID"] for r in qs].count("3") == 10  # the leaky entry, minus its free text
    vs = [r for r in written.read("VS.csv") if r["USUBJID"].endswith("K7Q2-9XHD")]
    assert len(vs) == 8
    assert vs[0]["VSSEQ"] == vs[0]["VSGRPID"] == "1"


# -- QSTESTCD derivation ---------------------------------------------------------------------


def _questionnaire(
    code: str, items: Sequence[Item], published_at: datetime, version: int = 1
) -> PublishedQuestionnaire:
    definition = QuestionnaireVersion(
        code=code,
        version=version,
        title={"en": code},
        languages=("en",),
        items=tuple(items),
        content_hash="0" * 64,
    )
    return PublishedQuestionnaire(uuid.uuid4(), uuid.uuid4(), definition, published_at)


def _int(code: str, label: str | None = None) -> Item:
    return Item(code, ItemType.INTEGER, {"en": code}, minimum=0, maximum=10, label=label)


ODD_ITEMS = (
    _int("VERYLONGITEMCODE_A"),
    _int("VERYLONGITEMCODE_B"),  # the same first 8 characters as the one before
    _int("MOOD"),  # also an item of SYMPTOMS, published earlier
    _int("1ST-ITEM"),  # starts with a digit, has a hyphen
    _int("lower"),
    _int("WEIRD", label="A label that is much longer than forty characters, really"),
    Item("NOTE", ItemType.FREE_TEXT, {"en": "Anything else?"}),
)


def test_qs_test_codes_are_short_unique_and_stable(snapshot: SampleSnapshot) -> None:
    odd = _questionnaire("A-VERY-LONG-QUESTIONNAIRE", ODD_ITEMS, T0 + timedelta(days=1))
    before = qs_test_codes(snapshot.meta.questionnaires)
    after = qs_test_codes((*snapshot.meta.questionnaires, odd))
    assert {k: v.testcd for k, v in before.items()} == {
        k: after[k].testcd for k in before
    }  # publishing more never changes a code given earlier
    codes = [test.testcd for test in after.values()]
    assert len(codes) == len(set(codes))
    assert all(TESTCD.match(code) for code in codes)
    assert all(len(test.test) <= MAX_LABEL for test in after.values())
    assert ("A-VERY-LONG-QUESTIONNAIRE", "NOTE") not in after
    assert after["SYMPTOMS", "MOOD"].testcd == "MOOD"
    mood = after["A-VERY-LONG-QUESTIONNAIRE", "MOOD"].testcd
    assert mood != "MOOD"
    assert mood.startswith("MOOD")
    assert after["A-VERY-LONG-QUESTIONNAIRE", "VERYLONGITEMCODE_A"].testcd.startswith("VERY")
    assert after["A-VERY-LONG-QUESTIONNAIRE", "1ST-ITEM"].testcd.startswith("Q1ST")
    assert after["A-VERY-LONG-QUESTIONNAIRE", "lower"].testcd.startswith("LOWE")
    assert after["A-VERY-LONG-QUESTIONNAIRE", "WEIRD"].testcd == "WEIRD"
    assert after["A-VERY-LONG-QUESTIONNAIRE", "WEIRD"].test == "WEIRD"  # the question asked
    # Deterministic: the same metadata in any order gives the same codes.
    again = qs_test_codes((odd, *reversed(snapshot.meta.questionnaires)))
    assert {k: v.testcd for k, v in again.items()} == {k: v.testcd for k, v in after.items()}


def test_an_earlier_publication_keeps_the_plain_code() -> None:
    late = _questionnaire("ZETA", (_int("MOOD"),), T0)
    early = _questionnaire("ALPHA", (_int("MOOD"),), T0 - timedelta(days=1))
    codes = qs_test_codes((early, late))
    assert codes["ALPHA", "MOOD"].testcd == "MOOD"
    assert codes["ZETA", "MOOD"].testcd != "MOOD"


async def test_derived_codes_reach_qs_and_the_code_list(
    snapshot: SampleSnapshot, tmp_path: Path
) -> None:
    odd = _questionnaire("A-VERY-LONG-QUESTIONNAIRE", ODD_ITEMS, T0 + timedelta(days=1))
    meta = dataclasses.replace(snapshot.meta, questionnaires=(*snapshot.meta.questionnaires, odd))
    subjects = await subjects_of(snapshot)
    first = subjects[0].entries[0]
    answers = {item.code: 3 for item in ODD_ITEMS[:-1]} | {"NOTE": "Carla was here"}
    entry: DiaryEntry = dataclasses.replace(
        first,
        id=uuid.uuid4(),
        questionnaire_code=odd.definition.code,
        questionnaire_version=1,
        answers=answers,
    )
    subjects[0] = dataclasses.replace(subjects[0], entries=(*subjects[0].entries, entry))
    written = await export(SampleSnapshot(meta, subjects, {}), tmp_path)
    expected = qs_test_codes(meta.questionnaires)
    codes = {
        (r["CATEGORY"], r["SOURCE"]): r["CODE"]
        for r in written.read("codes.csv")
        if r["VARIABLE"] == "QSTESTCD"
    }
    assert codes == {k: v.testcd for k, v in expected.items()}
    rows = [r for r in written.read("QS.csv") if r["QSCAT"] == odd.definition.code]
    assert [r["QSTESTCD"] for r in rows] == [
        expected[odd.definition.code, item.code].testcd for item in ODD_ITEMS[:-1]
    ]
    assert all(TESTCD.match(r["QSTESTCD"]) and len(r["QSTEST"]) <= 40 for r in rows)
    all_codes = [r["QSTESTCD"] for r in written.read("QS.csv")]
    pairs = {(r["QSCAT"], r["QSTESTCD"]) for r in written.read("QS.csv")}
    assert len({code for _, code in pairs}) == len(pairs)  # a code means one question
    assert all(TESTCD.match(c) for c in all_codes)
    assert "Carla" not in (tmp_path / "QS.csv").read_text("utf-8")


async def test_times_in_other_zones_keep_their_offset(
    snapshot: SampleSnapshot, tmp_path: Path
) -> None:
    subjects = await subjects_of(snapshot)
    readings = await readings_of(subjects[0])
    tokyo = ZoneInfo("Asia/Tokyo")
    moved = dataclasses.replace(
        readings[0],
        reading=dataclasses.replace(
            readings[0].reading,
            effective_start=datetime(2026, 3, 1, 23, 30, tzinfo=UTC).astimezone(tokyo),
        ),
    )
    subjects[0] = dataclasses.replace(subjects[0], readings=stream([moved]))
    written = await export(SampleSnapshot(snapshot.meta, subjects, {}), tmp_path)
    row = next(r for r in written.read("VS.csv") if r["USUBJID"].endswith("K7Q2-9XHD"))
    assert row["VSDTC"] == "2026-03-02T08:30:00+09:00"
    assert row["VSDY"] == "1"  # the local date on the device


async def test_local_times_use_the_zone_the_subject_was_in_then(
    snapshot: SampleSnapshot, tmp_path: Path
) -> None:
    """The first subject was in Tokyo when her first diary was due and lives in Berlin now:
    the due time reads in Tokyo time (it used to read in today's zone)."""
    first, *others = await subjects_of(snapshot)
    zones = (
        ZoneChange(T0 - timedelta(days=30), "Asia/Tokyo"),
        ZoneChange(T0 + timedelta(hours=12), "Europe/Berlin"),
    )
    moved = dataclasses.replace(first, info=dataclasses.replace(first.info, zones=zones))
    assert moved.info.timezone == "Europe/Berlin"
    done = await export(SampleSnapshot(snapshot.meta, [moved, *others], {}), tmp_path / "zones")
    due = {r["QSRFTDTC"] for r in done.read("QS.csv") if r["USUBJID"] == _usubjid(done, first)}
    assert "2026-03-02T17:00:00+09:00" in due  # 08:00 UTC, in Tokyo
    assert "2026-03-02T09:00:00+01:00" not in due


def _usubjid(done: Export, subject: Subject) -> str:
    return next(
        r["USUBJID"] for r in done.read("DM.csv") if r["USUBJID"].endswith(subject.info.subject_id)
    )


async def test_quarantined_and_rejected_readings_are_not_in_vs(
    snapshot: SampleSnapshot, tmp_path: Path
) -> None:
    first, *others = await subjects_of(snapshot)
    mine = await readings_of(first)
    held = dataclasses.replace(
        mine[0], status=ReadingStatus.QUARANTINED, quarantine_code="OUTSIDE_ASSIGNMENT"
    )
    rejected = dataclasses.replace(mine[1], status=ReadingStatus.REJECTED)
    changed = dataclasses.replace(first, readings=stream([held, rejected, *mine[2:]]))
    done = await export(SampleSnapshot(snapshot.meta, [changed, *others], {}), tmp_path / "vs")
    spids = {r["VSSPID"] for r in done.read("VS.csv") if r["USUBJID"] == _usubjid(done, first)}
    assert mine[0].reading.source_id not in spids
    assert mine[1].reading.source_id not in spids
    assert mine[2].reading.source_id in spids
