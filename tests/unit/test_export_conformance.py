"""SDTM conformance, checked against independent sources: the variables against SDTMIG 3.4,
define.xml against the Define-XML 2.1 XSD, Dataset-JSON against its official 1.1 JSON schema.

`tests/sdtmig_3_4_variables.csv` holds the SDTMIG v3.4 variable metadata (Dataset, Order,
Variable, Label, Type, Role, Core) of DM, DS, SV, QS, VS and SUPPQUAL, taken from CDISC's
"SDTMIG v3.4" Variables.csv as the CDISC Library exports it. `tests/dataset_json_1_1.schema.json`
is CDISC's Dataset-JSON v1.1 JSON schema (cdisc-org/DataExchange-DatasetJson, tag v1.1, MIT).
The Define-XML 2.1 XSD is CDISC's, as shipped by the odmlib package.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from infra.exports.datasetjson import write_dataset_json
from infra.exports.sdtm import ALL, SdtmDialect, write_sdtm
from infra.exports.sdtm.variables import MAX_LABEL, MAX_TEXT
from tests.export_sample import (
    PARTICIPANT_WORDS,
    UNCONFIRMED_MEDICATION,
    SampleSnapshot,
    sample_snapshot,
)

HERE = Path(__file__).resolve().parents[1]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
DEFINE_NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3", "def": "http://www.cdisc.org/ns/def/v2.1"}
# Variables of the SDTM v2.0 general observation classes that SDTMIG lets a domain add: where
# they go (after which IG variable) and their role.
CLASS_VARIABLES = {("VS", "VSENDTC"): ("VSDTC", "Timing", "Perm")}


def _ig() -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (HERE / "sdtmig_3_4_variables.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            found[row["Dataset"]].append(row)
    return found


IG = _ig()


def _ig_of(dataset: str) -> list[dict[str, str]]:
    return IG["SUPPQUAL" if dataset.startswith("SUPP") else dataset]


def _define_xsd() -> Path:
    spec = importlib.util.find_spec("odmlib")
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin).parent / "schemas" / "define" / "2.1" / "define2-1-0.xsd"


async def _written(snapshot: SampleSnapshot, directory: Path, json_format: bool) -> Path:
    directory.mkdir()  # noqa: ASYNC240 - a test's scratch directory
    writer = write_dataset_json if json_format else write_sdtm
    await writer(snapshot, directory, lambda n: None)
    return directory


@pytest.fixture
async def sdtm(tmp_path: Path) -> Path:
    return await _written(sample_snapshot(), tmp_path / "sdtm", json_format=False)


@pytest.fixture
async def dataset_json(tmp_path: Path) -> Path:
    return await _written(sample_snapshot(), tmp_path / "json", json_format=True)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, dialect=SdtmDialect))


# -- SDTMIG 3.4 ------------------------------------------------------------------------------


def test_variables_are_the_igs_in_its_order_with_its_labels_types_roles_and_cores() -> None:
    for dataset in ALL:
        ig = {row["Variable"].replace("--", dataset.name): row for row in _ig_of(dataset.name)}
        order = [v["Variable"] for v in _ig_of(dataset.name)]
        placed: list[str] = []
        for variable in dataset.variables:
            added = CLASS_VARIABLES.get((dataset.name, variable.name))
            if added is not None:
                after, role, core = added
                assert placed[-1] == after, (dataset.name, variable.name)
                assert (variable.role, variable.core) == (role, core)
                continue
            row = ig.get(variable.name)
            assert row is not None, f"{dataset.name}.{variable.name} is not an SDTMIG variable"
            assert variable.label == row["Label"], (dataset.name, variable.name)
            assert variable.type == row["Type"], (dataset.name, variable.name)
            assert (variable.role, variable.core) == (row["Role"], row["Core"]), variable.name
            placed.append(variable.name)
        assert placed == sorted(placed, key=order.index), dataset.name  # the IG's order
        emitted = {v.name for v in dataset.variables}
        for name, row in ig.items():
            if row["Core"] in ("Req", "Exp"):
                assert name in emitted, f"{dataset.name}.{name} ({row['Core']}) is missing"


def test_names_labels_and_values_fit_their_lengths(sdtm: Path) -> None:
    for dataset in ALL:
        for variable in dataset.variables:
            assert re.fullmatch(r"[A-Z][A-Z0-9]{0,7}", variable.name)
            assert 0 < len(variable.label) <= MAX_LABEL
        for row in _rows(sdtm / f"{dataset.name}.csv"):
            for name, value in row.items():
                assert len(value) <= MAX_TEXT, (dataset.name, name)
            if dataset.name.startswith("SUPP"):
                assert len(row["QNAM"]) <= 8
                assert len(row["QLABEL"]) <= MAX_LABEL
                assert row["RDOMAIN"] == dataset.name.removeprefix("SUPP")
            else:
                assert row["DOMAIN"] == dataset.name


async def test_no_dtc_has_fractions_of_a_second(tmp_path: Path) -> None:
    snapshot = sample_snapshot()
    subjects = [s async for s in snapshot.subjects()]
    first = subjects[0]
    entry = first.entries[0]
    precise = dataclasses.replace(
        entry, completed_at=entry.completed_at + timedelta(microseconds=5)
    )
    subjects[0] = dataclasses.replace(first, entries=(precise, *first.entries[1:]))
    written = await _written(SampleSnapshot(snapshot.meta, subjects, {}), tmp_path / "x", False)
    seen = 0
    for dataset in ALL:
        for row in _rows(written / f"{dataset.name}.csv"):
            for name, value in row.items():
                if name.endswith("DTC") and value:
                    seen += 1
                    assert not re.search(r":\d\d\.\d", value), (name, value)
    assert seen > 50


def test_disposition_and_supplemental_qualifiers(sdtm: Path) -> None:
    ds = _rows(sdtm / "DS.csv")
    by_subject = defaultdict(list)
    for row in ds:
        subject = row["USUBJID"].removeprefix("HEARTH-01-")
        by_subject[subject].append((row["DSSEQ"], row["DSDECOD"], row["DSCAT"]))
    assert by_subject["K7Q2-9XHD"] == [("1", "INFORMED CONSENT OBTAINED", "PROTOCOL MILESTONE")]
    assert by_subject["M3TR-4PLW"] == [
        ("1", "INFORMED CONSENT OBTAINED", "PROTOCOL MILESTONE"),
        ("2", "WITHDRAWAL BY SUBJECT", "DISPOSITION EVENT"),
    ]
    assert "Z9XC-2VBN" not in by_subject  # screened, never consented: no milestone yet
    suppsv = {(r["IDVAR"], r["QNAM"]) for r in _rows(sdtm / "SUPPSV.csv")}
    assert suppsv == {("VISITNUM", "SVSTATUS"), ("VISITNUM", "SVOUTCOM"), ("VISITNUM", "SVSCHDTC")}
    vs = {r["VSGRPID"]: r for r in _rows(sdtm / "VS.csv") if r["USUBJID"].endswith("K7Q2-9XHD")}
    (flagged,) = [r for r in _rows(sdtm / "SUPPVS.csv") if r["USUBJID"].endswith("K7Q2-9XHD")]
    assert (flagged["IDVAR"], flagged["QNAM"], flagged["QVAL"]) == ("VSGRPID", "VSCONSUP", "Y")
    assert vs[flagged["IDVARVAL"]]["VSTESTCD"] == "OXYSAT"
    timely = {r["QVAL"] for r in _rows(sdtm / "SUPPQS.csv") if r["QNAM"] == "QSTIMELY"}
    assert timely == {"ON_TIME", "LATE"}


def test_adverse_events_are_the_site_recorded_ones_without_the_participants_words(
    sdtm: Path,
) -> None:
    ae = [r for r in _rows(sdtm / "AE.csv") if r["USUBJID"].endswith("K7Q2-9XHD")]
    assert [r["AESEQ"] for r in ae] == ["1", "2"]  # the unconfirmed report stays out
    serious, ongoing = ae
    assert (serious["AETERM"], serious["AEDECOD"], serious["AEPTCD"]) == (
        "Pneumonia",
        "Pneumonia",
        "10035664",
    )
    assert (serious["AESER"], serious["AESHOSP"], serious["AESDTH"]) == ("Y", "Y", "N")
    assert (serious["AETOXGR"], serious["AESEV"]) == ("3", "")
    assert (serious["AEACN"], serious["AEOUT"]) == ("DRUG INTERRUPTED", "RECOVERED/RESOLVED")
    assert (serious["AESTDTC"], serious["AEENDTC"], serious["AEENRF"]) == (
        "2026-06-03",
        "2026-06-12",
        "",
    )
    assert serious["AESTDY"].isdigit()
    assert (ongoing["AESER"], ongoing["AESHOSP"], ongoing["AESEV"]) == ("N", "", "MILD")
    assert (ongoing["AESTDTC"], ongoing["AESTDY"], ongoing["AEENDTC"]) == ("2026-06", "", "")
    assert ongoing["AEENRF"] == "ONGOING"
    for path in sdtm.iterdir():
        assert PARTICIPANT_WORDS not in path.read_text(encoding="utf-8"), path.name


def test_medications_are_the_site_recorded_ones_with_their_codes_in_suppcm(sdtm: Path) -> None:
    cm = [r for r in _rows(sdtm / "CM.csv") if r["USUBJID"].endswith("K7Q2-9XHD")]
    assert [r["CMSEQ"] for r in cm] == ["1", "2"]  # the unconfirmed report stays out
    coded, confirmed = cm
    assert (coded["CMTRT"], coded["CMDECOD"], coded["CMINDC"]) == (
        "Amoxicillin 500",
        "AMOXICILLIN",
        "Pneumonia",
    )
    assert (coded["CMDOSE"], coded["CMDOSU"], coded["CMDOSFRQ"], coded["CMROUTE"]) == (
        "500",
        "mg",
        "TID",
        "ORAL",
    )
    assert (coded["CMSTDTC"], coded["CMENDTC"], coded["CMENRF"]) == ("2026-06-03", "2026-06-10", "")
    assert coded["CMSTDY"].lstrip("-").isdigit()
    assert coded["CMENDY"].lstrip("-").isdigit()
    assert (confirmed["CMDOSU"], confirmed["CMDOSFRQ"], confirmed["CMENRF"]) == (
        "TABLET",
        "PRN",
        "ONGOING",
    )
    assert (confirmed["CMSTDTC"], confirmed["CMSTDY"]) == ("2026-05", "")
    supp = [r for r in _rows(sdtm / "SUPPCM.csv") if r["USUBJID"] == coded["USUBJID"]]
    found = {(r["IDVARVAL"], r["QNAM"]): r["QVAL"] for r in supp}
    assert found[("1", "CMDRGCD")] == "000136010010"
    assert (found[("1", "CMUCUM")], found[("2", "CMUCUM")]) == ("mg", "{tbl}")
    assert (found[("1", "CMRPTBY")], found[("2", "CMRPTBY")]) == ("SITE", "PARTICIPANT")
    assert {r["IDVAR"] for r in supp} == {"CMSEQ"}
    for path in sdtm.iterdir():
        assert UNCONFIRMED_MEDICATION not in path.read_text(encoding="utf-8"), path.name


def test_deviations_recorded_and_raised_with_severity_and_resolution_in_suppdv(
    sdtm: Path,
) -> None:
    dv = [r for r in _rows(sdtm / "DV.csv") if r["USUBJID"].endswith("K7Q2-9XHD")]
    assert [r["DVSEQ"] for r in dv] == ["1", "2", "3"]
    assert [r["DVCAT"] for r in dv] == [
        "STUDY PROCEDURE",
        "VISIT OUT OF WINDOW",
        "MISSED ASSESSMENT",
    ]
    assert dv[0]["DVTERM"] == "Blood pressure taken seated instead of supine"
    assert dv[0]["DVSTDTC"] == "2026-06"
    assert DATE.match(dv[1]["DVSTDTC"])
    supp = [r for r in _rows(sdtm / "SUPPDV.csv") if r["USUBJID"] == dv[0]["USUBJID"]]
    found = {(r["IDVARVAL"], r["QNAM"]): r["QVAL"] for r in supp}
    assert (found[("1", "DVSEV")], found[("1", "DVSRC")], found[("1", "DVSTAT")]) == (
        "MINOR",
        "STAFF",
        "RESOLVED",
    )
    assert found[("1", "DVRESOL")] == "Site retrained"
    assert DATETIME.match(found[("1", "DVRESDTC")])
    assert (found[("2", "DVSRC")], found[("3", "DVSEV")], found[("3", "DVSTAT")]) == (
        "AUTOMATIC",
        "MAJOR",
        "OPEN",
    )
    assert ("2", "DVRESOL") not in found


# -- define.xml ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def define_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(_define_xsd()))


def test_define_xml_is_valid_define_xml_2_1(
    sdtm: Path, dataset_json: Path, define_schema: xmlschema.XMLSchema
) -> None:
    for directory in (sdtm, dataset_json):
        define_schema.validate(str(directory / "define.xml"))


def test_define_xml_describes_each_file_written(sdtm: Path, dataset_json: Path) -> None:
    for directory, suffix in ((sdtm, ".csv"), (dataset_json, ".json")):
        root = ET.parse(directory / "define.xml").getroot()
        groups = root.findall(".//odm:ItemGroupDef", DEFINE_NS)
        hrefs = [
            g.find("def:leaf", DEFINE_NS).attrib["{http://www.w3.org/1999/xlink}href"]  # type: ignore[union-attr]
            for g in groups
        ]
        assert all((directory / href).is_file() for href in hrefs)
        assert {h.removesuffix(suffix).upper() for h in hrefs} == {d.name for d in ALL}
        items = {i.attrib["OID"]: i for i in root.iterfind(".//odm:ItemDef", DEFINE_NS)}
        refs = {r.attrib["ItemOID"] for r in root.iterfind(".//odm:ItemRef", DEFINE_NS)}
        assert refs == set(items)
        qs = {
            c.attrib["CodedValue"]: c.findtext(".//odm:TranslatedText", namespaces=DEFINE_NS)
            for c in root.iterfind(
                ".//odm:CodeList[@OID='CL.QSTESTCD']/odm:CodeListItem", DEFINE_NS
            )
        }
        assert qs["PAIN"] == "Pain now"  # the whole question
        mandatory = {
            r.attrib["ItemOID"]
            for r in root.iterfind(".//odm:ItemRef[@Mandatory='Yes']", DEFINE_NS)
        }
        assert "IT.DM.SEX" in mandatory
        assert "IT.DM.AGE" not in mandatory


def test_define_xml_lengths_are_the_longest_values(sdtm: Path) -> None:
    root = ET.parse(sdtm / "define.xml").getroot()
    lengths = {
        i.attrib["OID"]: int(i.attrib["Length"])
        for i in root.iterfind(".//odm:ItemDef[@Length]", DEFINE_NS)
    }
    for dataset in ALL:
        rows = _rows(sdtm / f"{dataset.name}.csv")
        for variable in dataset.variables:
            oid = f"IT.{dataset.name}.{variable.name}"
            if oid in lengths:
                assert lengths[oid] == max([1, *(len(r[variable.name]) for r in rows)]), oid


# -- Dataset-JSON ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset_json_schema() -> jsonschema.Draft201909Validator:
    schema = json.loads((HERE / "dataset_json_1_1.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft201909Validator(schema)


def test_every_dataset_is_valid_dataset_json_1_1(
    dataset_json: Path, dataset_json_schema: jsonschema.Draft201909Validator
) -> None:
    for dataset in ALL:
        document = json.loads((dataset_json / f"{dataset.name.lower()}.json").read_text("utf-8"))
        dataset_json_schema.validate(document)
        assert list(document)[-1] == "rows"  # the attribute order of the specification
        assert document["records"] == len(document["rows"]) > 0
        assert [c["name"] for c in document["columns"]] == [v.name for v in dataset.variables]
        assert document["itemGroupOID"] == f"IG.{dataset.name}"
        assert document["metaDataRef"] == "define.xml"


def test_dataset_json_holds_what_the_csv_holds(sdtm: Path, dataset_json: Path) -> None:
    for dataset in ALL:
        document = json.loads(
            (dataset_json / f"{dataset.name.lower()}.json").read_text("utf-8"),
            parse_float=Decimal,
        )
        numbers = {c["name"] for c in document["columns"] if c["dataType"] in ("integer", "float")}
        rows = [
            {
                c["name"]: "" if value is None else str(value)
                for c, value in zip(document["columns"], row, strict=True)
            }
            for row in document["rows"]
        ]
        csv_rows = _rows(sdtm / f"{dataset.name}.csv")
        assert rows == csv_rows, dataset.name
        for row in document["rows"]:
            for column, value in zip(document["columns"], row, strict=True):
                if column["name"] in numbers:
                    assert value is None or isinstance(value, int | Decimal)


def test_dataset_json_has_no_identifiers(dataset_json: Path) -> None:
    text = "\n".join(p.read_text("utf-8") for p in dataset_json.iterdir())
    text = re.sub(r"(DATASET|DEFINE)\.[0-9a-f-]{36}", "", text)  # the export's own id
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text)
    for name in ("Carla", "Ines", "Vogel", "Charité"):
        assert name not in text
