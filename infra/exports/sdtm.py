"""SDTM-style CSV datasets: DM, SV, QS and VS, with a data dictionary and a code list.

Files (all UTF-8 without a BOM, comma-separated, a header row of SDTM variable names, fields
quoted only when needed with `"` doubled inside quotes, and RFC 4180 "\\r\\n" line endings — see
`SdtmDialect`; read them back with `csv.reader(f, dialect=SdtmDialect)` on a file opened with
`newline=""`). `WrittenFile.rows` counts data rows, never the header.

- `DM.csv`: one row per participant. USUBJID is "STUDYID-SUBJID" where SUBJID is the random
  pseudonymous subject id (never the internal participant UUID). RFSTDTC is the enrolment date,
  RFICDTC the first consent signature, RFPENDTC the status change of a COMPLETED or WITHDRAWN
  subject, DMDTC the registration time. SITEID is the site code, COUNTRY the site's country as
  ISO 3166-1 alpha-3. ACTARMCD/ACTARM repeat the planned arm (Hearth keeps one arm); without an
  arm they are empty and ARMNRS is "NOT ASSIGNED". DSDECOD (a sponsor addition, not an SDTM DM
  variable) carries the current Hearth participant status verbatim. No BRTHDTC, AGE or SEX: they
  are not collected.
- `SV.csv`: one row per subject per visit (requirement 40): every completed visit; for a
  definition without one, the scheduled visit with the latest start, else the latest
  cancelled one (SVOCCUR "N"). A definition's second completed visit is an unplanned repeat:
  VISITNUM 2.01, VISIT "Week 1 (repeat 1)". VISITNUM is otherwise the 1-based position
  in `Meta.visit_definitions` (ordered by day, then code), VISIT the definition's name, VISITDY
  the planned study day (Hearth day 0, the enrolment day, is SDTM day 1: days >= 0 get +1).
  SVPRESP is always "Y"; SVOCCUR is "Y" for a completed visit whose outcome is DONE or
  PARTIALLY_DONE, "N" for a cancelled one or a completed NOT_DONE/PARTICIPANT_UNREACHABLE one,
  and empty while the visit is still only scheduled; SVREASOC gives the coded reason (never
  notes). SVCNTMOD maps the contact mode to CDISC terms. Sponsor additions: SVSTATUS and
  SVOUTCOM (the Hearth status and outcome), SVSCHDTC (the scheduled start, on every row).
  SVSTDTC/SVENDTC (start, and the time it was marked complete) are set for completed visits
  only. Visits whose definition is not in the metadata are left out.
- `QS.csv`: one row per answered, exported item of each ACCEPTED diary entry (quarantined
  entries are left out; the current answers of corrected entries are used). FREE_TEXT items are
  never written, even if an answer were present. Unanswered items get no row. A multiple-choice
  answer gives one row per selected choice (in the item's choice order), all with the item's
  QSTESTCD. QSORRES/QSSTRESC hold choice codes, numbers, plain dates, local times (HH:MM[:SS],
  no offset: a wall-clock time of day, not a timestamp) or date-times with offset as answered;
  QSSTRESN is set for INTEGER, SCALE, DECIMAL and VAS items (trailing zeros dropped). QSCAT is
  the questionnaire code, QSSCAT the version the entry was answered on, QSDTC the completion
  time with the device's offset, QSGRPID the per-subject number of the entry (it groups the
  entry's rows), QSTPTREF "DIARY DUE" with QSRFTDTC the due time of the occurrence in the
  zone the subject was in then (their zone history; likewise RFICDTC and RFPENDTC).
- `VS.csv`: one row per component of each accepted reading that is not deleted (readings
  quarantined for review or rejected on review are left out): blood pressure gives a
  SYSBP and a DIABP row sharing VSGRPID (the per-subject number of the reading). VSTESTCD is one
  of HR, SYSBP, DIABP, STEPS, WEIGHT, GLUC, OXYSAT, TEMP. VSORRES/VSORRESU are the value and
  unit exactly as sent (VSORRESU is empty for a step count sent as a bare number), VSSTRESC/
  VSSTRESN/VSSTRESU the canonical value (trailing zeros dropped) in its canonical UCUM unit
  (units are UCUM codes, not CDISC UNIT terms). VSDTC is the effective time (an interval's
  start) with the device's offset, VSENDTC an interval's end. VSSPID is the device's own record
  id (the reading's source id).
- `define.csv`: the data dictionary, one row per variable of the four datasets in dataset and
  variable order: DATASET, VARIABLE, LABEL (at most 40 characters), TYPE (Char or Num), ORIGIN
  (Assigned, Collected or Derived), NOTES (how Hearth fills it).
- `codes.csv`: the code lists: DATASET, VARIABLE, CODE, DECODE, CATEGORY, SOURCE, TYPE, UNIT,
  VERSIONS, VALUES. Rows for DM/ARMCD (arm code -> name), SV/VISITNUM (number -> visit name,
  SOURCE the visit code, VALUES the planned day and window), QS/QSTESTCD (CATEGORY the
  questionnaire code, SOURCE the item code, TYPE the item type, VERSIONS the versions that have
  the item, VALUES the choices or range and anchors, in English when available) and
  VS/VSTESTCD (SOURCE the reading kind and component, VALUES the plausible range).

Test codes (requirement 40) are at most 8 characters matching ^[A-Z_][A-Z0-9_]{0,7}$, test
labels at most 40 characters. A QSTESTCD is derived per (questionnaire code, item code): pairs
are taken in order of their first publication (publication time, questionnaire code, version,
item position); each takes the item code itself when it is a valid, still unused test code,
else the first unused code of the form STEM + HASH, where STEM is the item code's first 4
characters (non [A-Z0-9_] replaced by "_", "Q" prepended if it would start with a digit) and
HASH the base32 SHA-256 of "questionnaire, item, n" for n = 0, 1, ... Codes are therefore
deterministic, unique within QS, and stable over time: a later publication never changes a
code given earlier. FREE_TEXT items get no code. QSTEST is the item's `test_label` in the
latest version that has the item, truncated to 40.

--SEQ numbers run from 1 per subject within each domain, in the order rows are written
(entries by due time, items in questionnaire order; readings by effective time, components
in their specification order). Timestamps carry their UTC offset (ISO 8601); dates are plain.
Nothing written is a direct identifier, a free-text answer, a visit note or an internal UUID.

Streaming: subjects are read once and each subject's readings streamed; rows pass through the
csv module into a small buffer that is flushed to its `OutputFile` (and reported to `progress`,
which counts DM, SV, QS and VS data rows, not the dictionary files) every 2,000 rows. An
ACCEPTED entry whose questionnaire version is missing from the metadata raises ValueError: the
snapshot is inconsistent and a silently incomplete QS would be worse.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from domain.design import ContactMode, VisitDefinition
from domain.devices import ReadingStatus
from domain.diaries import DiaryEntry, EntryStatus
from domain.participants import ParticipantStatus
from domain.questionnaires import (
    Item,
    ItemType,
    PlainAnswer,
    PublishedQuestionnaire,
    QuestionnaireVersion,
)
from domain.readings import SPECS, ReadingKind
from domain.visits import Visit, VisitOutcome, VisitStatus
from infra.exports.model import (
    Meta,
    Progress,
    Snapshot,
    Subject,
    SubjectInfo,
    WrittenFile,
)
from infra.exports.streaming import OutputFile


class SdtmDialect(csv.Dialect):
    """RFC 4180 CSV: comma, minimal quoting with doubled quotes, CRLF line endings."""

    delimiter = ","
    quotechar = '"'
    escapechar = None
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


TESTCD_PATTERN = re.compile(r"[A-Z_][A-Z0-9_]{0,7}")
MAX_LABEL = 40
_FLUSH_ROWS = 2000  # rows buffered per dataset before they go to the file and to `progress`


class Var(NamedTuple):
    """One dataset variable as described in define.csv."""

    name: str
    label: str
    type: str  # Char or Num
    origin: str  # Assigned, Collected or Derived
    notes: str


def _v(name: str, label: str, notes: str, *, num: bool = False, origin: str = "Derived") -> Var:
    return Var(name, label, "Num" if num else "Char", origin, notes)


def _identifiers(domain: str) -> tuple[Var, ...]:
    return (
        _v("STUDYID", "Study Identifier", "The study code.", origin="Assigned"),
        _v("DOMAIN", "Domain Abbreviation", f"Always {domain}.", origin="Assigned"),
        _v("USUBJID", "Unique Subject Identifier", "STUDYID-SUBJID (pseudonymous)."),
    )


DM_VARS: tuple[Var, ...] = (
    *_identifiers("DM"),
    _v(
        "SUBJID",
        "Subject Identifier for the Study",
        "The random pseudonymous study subject id.",
        origin="Assigned",
    ),
    _v(
        "RFSTDTC",
        "Subject Reference Start Date/Time",
        "Enrolment date (a date); empty until enrolled.",
        origin="Collected",
    ),
    _v(
        "RFICDTC",
        "Date/Time of Informed Consent",
        "First consent signature, subject's time zone with offset.",
        origin="Collected",
    ),
    _v(
        "RFPENDTC",
        "Date/Time of End of Participation",
        "Status change time of a COMPLETED or WITHDRAWN subject.",
    ),
    _v("SITEID", "Study Site Identifier", "The site code.", origin="Assigned"),
    _v("ARMCD", "Planned Arm Code", "Arm code; see codes.csv.", origin="Assigned"),
    _v("ARM", "Description of Planned Arm", "Arm name.", origin="Assigned"),
    _v("ACTARMCD", "Actual Arm Code", "Same as ARMCD: Hearth keeps one arm per subject."),
    _v("ACTARM", "Description of Actual Arm", "Same as ARM."),
    _v("ARMNRS", "Reason Arm and/or Actual Arm is Null", "NOT ASSIGNED when there is no arm."),
    _v("COUNTRY", "Country", "Site country, ISO 3166-1 alpha-3.", origin="Assigned"),
    _v(
        "DMDTC",
        "Date/Time of Collection",
        "Registration time, subject's time zone with offset.",
        origin="Collected",
    ),
    _v(
        "DSDECOD",
        "Standardized Disposition Term",
        "Sponsor addition: current Hearth participant status (SCREENED, CONSENTED, ENROLLED, "
        "COMPLETED, WITHDRAWN).",
        origin="Assigned",
    ),
)

SV_VARS: tuple[Var, ...] = (
    *_identifiers("SV"),
    _v(
        "VISITNUM",
        "Visit Number",
        "1-based position of the visit definition (by day, then code).",
        num=True,
        origin="Assigned",
    ),
    _v("VISIT", "Visit Name", "Visit definition name.", origin="Assigned"),
    _v(
        "VISITDY",
        "Planned Study Day of Visit",
        "Definition day + 1 when >= 0 (day 0 is enrolment = SDTM day 1), else the day.",
        num=True,
        origin="Assigned",
    ),
    _v("SVPRESP", "Pre-specified", "Y: every row is a protocol visit.", origin="Assigned"),
    _v(
        "SVOCCUR",
        "Occurrence",
        "Y completed (DONE, PARTIALLY_DONE); N cancelled or not done; empty while scheduled.",
    ),
    _v(
        "SVREASOC",
        "Reason Visit Not Occurred",
        "Coded reason when SVOCCUR is N (CANCELLED, NOT DONE, PARTICIPANT UNREACHABLE).",
    ),
    _v(
        "SVCNTMOD",
        "Contact Mode",
        "IN PERSON (site, home nurse), TELEPHONE CALL or REMOTE AUDIO VIDEO.",
        origin="Collected",
    ),
    _v(
        "SVSTATUS",
        "Visit Status",
        "Sponsor addition: SCHEDULED, COMPLETED or CANCELLED. One row per subject and visit "
        "definition: the completed visit, else the latest scheduled, else the latest cancelled.",
        origin="Collected",
    ),
    _v(
        "SVOUTCOM",
        "Visit Outcome",
        "Sponsor addition: DONE, PARTIALLY_DONE, NOT_DONE or PARTICIPANT_UNREACHABLE.",
        origin="Collected",
    ),
    _v(
        "SVSCHDTC",
        "Scheduled Start Date/Time of Visit",
        "Sponsor addition: the planned start, visit time zone with offset.",
        origin="Collected",
    ),
    _v(
        "SVSTDTC",
        "Start Date/Time of Visit",
        "Completed visits only: the start, visit time zone with offset.",
        origin="Collected",
    ),
    _v(
        "SVENDTC",
        "End Date/Time of Visit",
        "Completed visits only: when marked complete, with offset.",
        origin="Collected",
    ),
    _v("SVSTDY", "Study Day of Start of Visit", "From SVSTDTC and RFSTDTC.", num=True),
    _v("SVENDY", "Study Day of End of Visit", "From SVENDTC and RFSTDTC.", num=True),
)

QS_VARS: tuple[Var, ...] = (
    *_identifiers("QS"),
    _v(
        "QSSEQ",
        "Sequence Number",
        "1.. per subject: entries by due time, items in questionnaire order.",
        num=True,
    ),
    _v("QSGRPID", "Group ID", "Per-subject number of the diary entry; groups its rows."),
    _v(
        "QSTESTCD",
        "Question Short Name",
        "Derived per (QSCAT, item code), unique and stable; mapping in codes.csv.",
    ),
    _v("QSTEST", "Question Name", "Item label (else code) of the latest version, <= 40."),
    _v("QSCAT", "Category of Question", "The questionnaire code.", origin="Assigned"),
    _v(
        "QSSCAT",
        "Subcategory for Question",
        "The questionnaire version the entry answered.",
        origin="Assigned",
    ),
    _v(
        "QSORRES",
        "Finding in Original Units",
        "As answered: choice code (one row per selected choice), number, date, local time or "
        "date-time with offset. Free text is never exported.",
        origin="Collected",
    ),
    _v("QSORRESU", "Original Units", "The item's UCUM unit.", origin="Assigned"),
    _v("QSSTRESC", "Character Result/Finding in Std Format", "QSORRES; numbers normalised."),
    _v(
        "QSSTRESN",
        "Numeric Result/Finding in Standard Units",
        "For INTEGER, SCALE, DECIMAL and VAS items.",
        num=True,
    ),
    _v("QSSTRESU", "Standard Units", "The item's UCUM unit.", origin="Assigned"),
    _v(
        "QSDTC",
        "Date/Time of Finding",
        "Completion time with the device's offset.",
        origin="Collected",
    ),
    _v("QSDY", "Study Day of Finding", "From QSDTC and RFSTDTC.", num=True),
    _v("QSTPTREF", "Time Point Reference", "DIARY DUE.", origin="Assigned"),
    _v(
        "QSRFTDTC",
        "Date/Time of Reference Time Point",
        "Due time of the diary occurrence, subject's time zone with offset.",
    ),
)

VS_VARS: tuple[Var, ...] = (
    *_identifiers("VS"),
    _v(
        "VSSEQ",
        "Sequence Number",
        "1.. per subject: readings by effective time, then components.",
        num=True,
    ),
    _v("VSGRPID", "Group ID", "Per-subject number of the reading; SYSBP and DIABP share it."),
    _v(
        "VSSPID",
        "Sponsor-Defined Identifier",
        "The device's own record id (source id).",
        origin="Collected",
    ),
    _v("VSTESTCD", "Vital Signs Test Short Name", "See codes.csv.", origin="Assigned"),
    _v("VSTEST", "Vital Signs Test Name", "See codes.csv.", origin="Assigned"),
    _v(
        "VSORRES",
        "Result or Finding in Original Units",
        "The value exactly as the device sent it.",
        origin="Collected",
    ),
    _v(
        "VSORRESU",
        "Original Units",
        "The unit as sent; empty for a bare step count.",
        origin="Collected",
    ),
    _v("VSSTRESC", "Character Result/Finding in Std Format", "Canonical value, no trailing 0s."),
    _v("VSSTRESN", "Numeric Result/Finding in Standard Units", "Canonical value.", num=True),
    _v("VSSTRESU", "Standard Units", "Canonical UCUM unit of the kind."),
    _v(
        "VSDTC",
        "Date/Time of Measurements",
        "Effective time (interval start) with the device's offset.",
        origin="Collected",
    ),
    _v(
        "VSENDTC",
        "End Date/Time of Observation",
        "Interval end (step counts); empty for a point in time.",
        origin="Collected",
    ),
    _v("VSDY", "Study Day of Vital Signs", "From VSDTC's local date and RFSTDTC.", num=True),
)

DATASETS: Mapping[str, tuple[Var, ...]] = {
    "DM": DM_VARS,
    "SV": SV_VARS,
    "QS": QS_VARS,
    "VS": VS_VARS,
}
DEFINE_HEADER = ("DATASET", "VARIABLE", "LABEL", "TYPE", "ORIGIN", "NOTES")
CODES_HEADER = (
    "DATASET",
    "VARIABLE",
    "CODE",
    "DECODE",
    "CATEGORY",
    "SOURCE",
    "TYPE",
    "UNIT",
    "VERSIONS",
    "VALUES",
)


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

_CONTACT_MODE = {
    ContactMode.SITE: "IN PERSON",
    ContactMode.HOME_NURSE: "IN PERSON",
    ContactMode.PHONE: "TELEPHONE CALL",
    ContactMode.VIDEO: "REMOTE AUDIO VIDEO",
}
_NOT_OCCURRED = {
    VisitOutcome.NOT_DONE: "NOT DONE",
    VisitOutcome.PARTICIPANT_UNREACHABLE: "PARTICIPANT UNREACHABLE",
}
_ENDED = frozenset({ParticipantStatus.COMPLETED, ParticipantStatus.WITHDRAWN})
_NUMERIC_ITEMS = frozenset({ItemType.INTEGER, ItemType.SCALE, ItemType.DECIMAL, ItemType.VAS})

# ISO 3166-1 alpha-2 -> alpha-3, packed as "AAAAA" groups (all 249 officially assigned codes).
_ALPHA3_TABLE = (
    "ADAND AEARE AFAFG AGATG AIAIA ALALB AMARM AOAGO AQATA ARARG ASASM ATAUT AUAUS AWABW "
    "AXALA AZAZE BABIH BBBRB BDBGD BEBEL BFBFA BGBGR BHBHR BIBDI BJBEN BLBLM BMBMU BNBRN "
    "BOBOL BQBES BRBRA BSBHS BTBTN BVBVT BWBWA BYBLR BZBLZ CACAN CCCCK CDCOD CFCAF CGCOG "
    "CHCHE CICIV CKCOK CLCHL CMCMR CNCHN COCOL CRCRI CUCUB CVCPV CWCUW CXCXR CYCYP CZCZE "
    "DEDEU DJDJI DKDNK DMDMA DODOM DZDZA ECECU EEEST EGEGY EHESH ERERI ESESP ETETH FIFIN "
    "FJFJI FKFLK FMFSM FOFRO FRFRA GAGAB GBGBR GDGRD GEGEO GFGUF GGGGY GHGHA GIGIB GLGRL "
    "GMGMB GNGIN GPGLP GQGNQ GRGRC GSSGS GTGTM GUGUM GWGNB GYGUY HKHKG HMHMD HNHND HRHRV "
    "HTHTI HUHUN IDIDN IEIRL ILISR IMIMN ININD IOIOT IQIRQ IRIRN ISISL ITITA JEJEY JMJAM "
    "JOJOR JPJPN KEKEN KGKGZ KHKHM KIKIR KMCOM KNKNA KPPRK KRKOR KWKWT KYCYM KZKAZ LALAO "
    "LBLBN LCLCA LILIE LKLKA LRLBR LSLSO LTLTU LULUX LVLVA LYLBY MAMAR MCMCO MDMDA MEMNE "
    "MFMAF MGMDG MHMHL MKMKD MLMLI MMMMR MNMNG MOMAC MPMNP MQMTQ MRMRT MSMSR MTMLT MUMUS "
    "MVMDV MWMWI MXMEX MYMYS MZMOZ NANAM NCNCL NENER NFNFK NGNGA NINIC NLNLD NONOR NPNPL "
    "NRNRU NUNIU NZNZL OMOMN PAPAN PEPER PFPYF PGPNG PHPHL PKPAK PLPOL PMSPM PNPCN PRPRI "
    "PSPSE PTPRT PWPLW PYPRY QAQAT REREU ROROU RSSRB RURUS RWRWA SASAU SBSLB SCSYC SDSDN "
    "SESWE SGSGP SHSHN SISVN SJSJM SKSVK SLSLE SMSMR SNSEN SOSOM SRSUR SSSSD STSTP SVSLV "
    "SXSXM SYSYR SZSWZ TCTCA TDTCD TFATF TGTGO THTHA TJTJK TKTKL TLTLS TMTKM TNTUN TOTON "
    "TRTUR TTTTO TVTUV TWTWN TZTZA UAUKR UGUGA UMUMI USUSA UYURY UZUZB VAVAT VCVCT VEVEN "
    "VGVGB VIVIR VNVNM VUVUT WFWLF WSWSM YEYEM YTMYT ZAZAF ZMZMB ZWZWE"
)
_ALPHA3 = {group[:2]: group[2:] for group in _ALPHA3_TABLE.split()}


# -- writing ---------------------------------------------------------------------------------


class _Table:
    """One CSV file: rows go through the csv module into a buffer, flushed in batches."""

    def __init__(self, out: OutputFile, header: Sequence[str], progress: Progress | None) -> None:
        self._out = out
        self._progress = progress
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, dialect=SdtmDialect)
        self._pending = 0
        self._writer.writerow(header)
        self._flush()

    def row(self, values: Sequence[object]) -> None:
        self._writer.writerow(values)
        self._pending += 1
        if self._pending >= _FLUSH_ROWS:
            self._flush()

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        text = self._buffer.getvalue()
        if not text:
            return
        rows = self._pending
        self._out.write(text, rows=rows)
        self._buffer.seek(0)
        self._buffer.truncate()
        self._pending = 0
        if rows and self._progress is not None:
            self._progress(rows)


async def write_sdtm(snapshot: Snapshot, directory: Path, progress: Progress) -> list[WrittenFile]:
    """Write DM, SV, QS, VS, define.csv and codes.csv into `directory` (see the module doc)."""
    meta = snapshot.meta
    context = _Context.of(meta)
    names = ("define.csv", "codes.csv", "DM.csv", "SV.csv", "QS.csv", "VS.csv")
    outputs = [OutputFile(directory / name) for name in names]
    with ExitStack() as stack:
        define, codes, dm_file, sv_file, qs_file, vs_file = (
            stack.enter_context(out) for out in outputs
        )
        _write_define(_Table(define, DEFINE_HEADER, None))
        _write_codes(_Table(codes, CODES_HEADER, None), meta, context)
        dm = _Table(dm_file, [v.name for v in DM_VARS], progress)
        sv = _Table(sv_file, [v.name for v in SV_VARS], progress)
        qs = _Table(qs_file, [v.name for v in QS_VARS], progress)
        vs = _Table(vs_file, [v.name for v in VS_VARS], progress)
        async for subject in snapshot.subjects():
            who = _Who.of(context, subject)
            dm.row(_dm_row(context, who, subject))
            _write_visits(sv, context, who, subject.visits)
            _write_entries(qs, context, who, subject.entries)
            await _write_readings(vs, who, subject)
        for table in (dm, sv, qs, vs):
            table.close()
    return [out.written(directory) for out in outputs]


# -- metadata --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QsTest:
    testcd: str
    test: str
    questionnaire: str
    item: Item  # as defined in the latest version that has it
    versions: tuple[int, ...]


@dataclass(frozen=True)
class _Context:
    study_id: str
    sites: Mapping[object, tuple[str, str]]  # site id -> (code, alpha-3 country)
    arms: Mapping[object, tuple[str, str]]  # arm id -> (code, name)
    visits: Mapping[object, tuple[int, VisitDefinition]]  # definition id -> (VISITNUM, def)
    versions: Mapping[tuple[str, int], QuestionnaireVersion]
    qs_tests: Mapping[tuple[str, str], QsTest]

    @classmethod
    def of(cls, meta: Meta) -> _Context:
        return cls(
            study_id=meta.study.code,
            sites={s.id: (s.code, _ALPHA3.get(s.country, s.country)) for s in meta.sites},
            arms={a.id: (a.code, a.name) for a in meta.arms},
            visits={d.id: (n, d) for n, d in enumerate(meta.visit_definitions, start=1)},
            versions={
                (q.definition.code, q.definition.version): q.definition for q in meta.questionnaires
            },
            qs_tests=qs_test_codes(meta.questionnaires),
        )


def qs_test_codes(
    questionnaires: Sequence[PublishedQuestionnaire],
) -> dict[tuple[str, str], QsTest]:
    """QSTESTCD and QSTEST per (questionnaire code, item code); see the module doc."""
    first: dict[tuple[str, str], tuple[datetime, str, int, int]] = {}
    latest: dict[tuple[str, str], tuple[int, Item]] = {}
    versions: dict[tuple[str, str], set[int]] = {}
    for published in questionnaires:
        definition = published.definition
        for position, item in enumerate(definition.items):
            if item.is_free_text:
                continue
            key = (definition.code, item.code)
            order = (published.published_at, definition.code, definition.version, position)
            if key not in first or order < first[key]:
                first[key] = order
            if key not in latest or definition.version > latest[key][0]:
                latest[key] = (definition.version, item)
            versions.setdefault(key, set()).add(definition.version)
    taken: set[str] = set()
    found: dict[tuple[str, str], QsTest] = {}
    for key in sorted(first, key=first.__getitem__):
        testcd = next(code for code in _testcd_candidates(*key) if code not in taken)
        taken.add(testcd)
        item = latest[key][1]
        found[key] = QsTest(
            testcd, item.test_label[:MAX_LABEL], key[0], item, tuple(sorted(versions[key]))
        )
    return found


def _testcd_candidates(questionnaire: str, item: str) -> Iterator[str]:
    if TESTCD_PATTERN.fullmatch(item):
        yield item
    stem = re.sub(r"[^A-Z0-9_]", "_", item.upper())
    if not stem or stem[0].isdigit():
        stem = "Q" + stem
    stem = stem[:4]
    for n in itertools.count():
        digest = hashlib.sha256(f"{questionnaire}\x1f{item}\x1f{n}".encode()).digest()
        yield stem + base64.b32encode(digest).decode("ascii")[: 8 - len(stem)]


def _write_define(table: _Table) -> None:
    for dataset, variables in DATASETS.items():
        for var in variables:
            table.row((dataset, var.name, var.label, var.type, var.origin, var.notes))
    table.close()


def _write_codes(table: _Table, meta: Meta, context: _Context) -> None:
    for row in itertools.chain(
        (("DM", "ARMCD", arm.code, arm.name, "", "", "", "", "", "") for arm in meta.arms),
        _visit_codes(context),
        _qs_codes(context),
        _vs_codes(),
    ):
        table.row(row)
    table.close()


CodeRow = tuple[str, str, str | int, str, str, str, str, str, str, str]


def _visit_codes(context: _Context) -> Iterator[CodeRow]:
    for number, definition in context.visits.values():
        window = (
            f"day {definition.day}, window -{definition.window_before}"
            f"/+{definition.window_after} days"
        )
        yield ("SV", "VISITNUM", number, definition.name, "", definition.code, "", "", "", window)


def _qs_codes(context: _Context) -> Iterator[CodeRow]:
    for test in context.qs_tests.values():
        item = test.item
        versions = ";".join(str(v) for v in test.versions)
        yield (
            "QS",
            "QSTESTCD",
            test.testcd,
            test.test,
            test.questionnaire,
            item.code,
            item.type.value,
            item.unit or "",
            versions,
            _item_values(item),
        )


def _vs_codes() -> Iterator[CodeRow]:
    for kind, tests in VS_TESTS.items():
        spec = SPECS[kind]
        ranges = {c.name: f"{c.low}-{c.high}" for c in spec.components}
        for t in tests:
            source = f"{kind.value}.{t.component}"
            unit = spec.canonical_unit
            yield (
                "VS",
                "VSTESTCD",
                t.testcd,
                t.test,
                "",
                source,
                "Num",
                unit,
                "",
                ranges[t.component],
            )


def _english(texts: Mapping[str, str]) -> str:
    for tag, text in texts.items():
        if tag.split("-")[0] == "en":
            return text
    return next(iter(texts.values()), "")


def _item_values(item: Item) -> str:
    if item.choices:
        return "; ".join(f"{c.code}={_english(c.texts)}" for c in item.choices)
    parts = []
    if item.minimum is not None or item.maximum is not None:
        low = "" if item.minimum is None else str(item.minimum)
        high = "" if item.maximum is None else str(item.maximum)
        parts.append(f"{low}-{high}")
    if item.anchors:
        anchors = "; ".join(f"{k}={_english(v)}" for k, v in sorted(item.anchors.items()))
        parts.append(f"({anchors})")
    return " ".join(parts)


# -- subjects --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Who:
    study_id: str
    usubjid: str
    info: SubjectInfo  # its zone history dates local times
    reference: date | None  # RFSTDTC

    @classmethod
    def of(cls, context: _Context, subject: Subject) -> _Who:
        info = subject.info
        return cls(
            study_id=context.study_id,
            usubjid=f"{context.study_id}-{info.subject_id}",
            info=info,
            reference=info.enrolled_on,
        )

    def local(self, moment: datetime | None) -> str:
        """In the zone the subject was in at that moment (not today's: they may have moved)."""
        if moment is None:
            return ""
        return moment.astimezone(ZoneInfo(self.info.zone_at(moment))).isoformat()


def study_day(day: date, reference: date | None) -> int | str:
    """SDTM study day: RFSTDTC is day 1, the day before it day -1 (there is no day 0)."""
    if reference is None:
        return ""
    delta = (day - reference).days
    return delta + 1 if delta >= 0 else delta


def _dm_row(context: _Context, who: _Who, subject: Subject) -> tuple[object, ...]:
    info = subject.info
    site_code, country = context.sites.get(info.site_id, ("", ""))
    arm_code, arm_name = context.arms.get(info.arm_id, ("", "")) if info.arm_id else ("", "")
    consented = min((c.signed_at for c in subject.consents), default=None)
    ended = info.status_changed_at if info.status in _ENDED else None
    return (
        who.study_id,
        "DM",
        who.usubjid,
        info.subject_id,
        "" if info.enrolled_on is None else info.enrolled_on.isoformat(),
        who.local(consented),
        who.local(ended),
        site_code,
        arm_code,
        arm_name,
        arm_code,
        arm_name,
        "" if arm_code else "NOT ASSIGNED",
        country,
        who.local(info.registered_at),
        info.status.value,
    )


def chosen_visits(visits: Sequence[Visit]) -> dict[object, list[Visit]]:
    """Per definition: every completed visit (in time order), else the latest scheduled one,
    else the latest cancelled one."""
    rank = {VisitStatus.COMPLETED: 2, VisitStatus.SCHEDULED: 1, VisitStatus.CANCELLED: 0}
    by_definition: dict[object, list[Visit]] = {}
    for visit in visits:
        by_definition.setdefault(visit.definition_id, []).append(visit)
    chosen: dict[object, list[Visit]] = {}
    for definition_id, group in by_definition.items():
        done = sorted(
            (v for v in group if v.status is VisitStatus.COMPLETED),
            key=lambda v: (v.starts_at, str(v.id)),
        )
        chosen[definition_id] = done or [
            max(group, key=lambda v: (rank[v.status], v.starts_at, str(v.id)))
        ]
    return chosen


def _write_visits(table: _Table, context: _Context, who: _Who, visits: Sequence[Visit]) -> None:
    """A visit held again (e.g. repeated after a failed call) gets its own row, numbered as
    an unplanned repeat: VISITNUM 2.01, VISIT "Week 1 (repeat 1)"."""
    rows = []
    for definition_id, chosen in chosen_visits(visits).items():
        if definition_id in context.visits:
            number, definition = context.visits[definition_id]
            for repeat, visit in enumerate(chosen):
                rows.append(((number, repeat), _sv_row(who, number, definition, visit, repeat)))
    for _, row in sorted(rows, key=lambda pair: pair[0]):
        table.row(row)


def _sv_row(
    who: _Who, number: int, definition: VisitDefinition, visit: Visit, repeat: int = 0
) -> tuple[object, ...]:
    zone = ZoneInfo(visit.timezone)
    completed = visit.status is VisitStatus.COMPLETED
    occurred, reason = _occurrence(visit)
    start = visit.starts_at.astimezone(zone) if completed else None
    end = visit.completed_at.astimezone(zone) if completed and visit.completed_at else None
    return (
        who.study_id,
        "SV",
        who.usubjid,
        f"{number}.{repeat:02d}" if repeat else number,
        f"{definition.name} (repeat {repeat})" if repeat else definition.name,
        definition.day + 1 if definition.day >= 0 else definition.day,
        "Y",
        occurred,
        reason,
        _CONTACT_MODE.get(visit.mode, ""),
        visit.status.value,
        "" if visit.outcome is None else visit.outcome.value,
        visit.starts_at.astimezone(zone).isoformat(),
        "" if start is None else start.isoformat(),
        "" if end is None else end.isoformat(),
        "" if start is None else study_day(start.date(), who.reference),
        "" if end is None else study_day(end.date(), who.reference),
    )


def _occurrence(visit: Visit) -> tuple[str, str]:
    """SVOCCUR and SVREASOC."""
    if visit.status is VisitStatus.CANCELLED:
        return "N", "CANCELLED"
    if visit.status is VisitStatus.SCHEDULED:
        return "", ""
    if visit.outcome in _NOT_OCCURRED:
        return "N", _NOT_OCCURRED[visit.outcome]
    return "Y", ""


def _write_entries(
    table: _Table, context: _Context, who: _Who, entries: Sequence[DiaryEntry]
) -> None:
    seq = 0
    group = 0
    for entry in entries:
        if entry.status is not EntryStatus.ACCEPTED:
            continue
        version = context.versions.get((entry.questionnaire_code, entry.questionnaire_version))
        if version is None:
            raise ValueError(
                f"Questionnaire {entry.questionnaire_code} version "
                f"{entry.questionnaire_version} is not in the snapshot's metadata."
            )
        group += 1
        dtc = entry.completed_at.isoformat()
        day = study_day(entry.completed_at.date(), who.reference)
        due = who.local(entry.due_at)
        for item in version.items:
            test = context.qs_tests.get((version.code, item.code))
            answer = entry.answers.get(item.code)
            if item.is_free_text or test is None or answer is None:
                continue
            for original, standard, number in qs_results(item, answer):
                seq += 1
                table.row(
                    (
                        who.study_id,
                        "QS",
                        who.usubjid,
                        seq,
                        group,
                        test.testcd,
                        test.test,
                        version.code,
                        version.version,
                        original,
                        item.unit or "",
                        standard,
                        number,
                        item.unit or "",
                        dtc,
                        day,
                        "DIARY DUE",
                        due,
                    )
                )


def qs_results(item: Item, answer: PlainAnswer) -> list[tuple[str, str, str]]:
    """(QSORRES, QSSTRESC, QSSTRESN) rows for one answer; none for free text."""
    if item.is_free_text:
        return []
    if item.type is ItemType.MULTIPLE_CHOICE:
        selected = (
            answer if isinstance(answer, list) else [answer] if isinstance(answer, str) else []
        )
        order = {c.code: n for n, c in enumerate(item.choices)}
        ordered = sorted(selected, key=lambda code: (order.get(code, len(order)), code))
        return [(code, code, "") for code in ordered]
    if isinstance(answer, list | bool) or answer == "":
        return []
    text = str(answer)
    if item.type in _NUMERIC_ITEMS:
        try:
            number = plain_number(Decimal(text))
        except InvalidOperation:
            return [(text, text, "")]
        return [(text, number, number)]
    return [(text, text, "")]


def plain_number(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 72.000 -> "72", 1E+2 -> "100"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


async def _write_readings(table: _Table, who: _Who, subject: Subject) -> None:
    study_id, usubjid, reference = who.study_id, who.usubjid, who.reference
    row = table.row
    seq = 0
    group = 0
    async for stored in subject.readings():
        if stored.deleted_at is not None or stored.status is not ReadingStatus.ACCEPTED:
            continue
        reading = stored.reading
        group += 1
        start = reading.effective_start
        dtc = start.isoformat()
        end = "" if reading.effective_end is None else reading.effective_end.isoformat()
        day = study_day(start.date(), reference)
        components = reading.components
        for test in VS_TESTS[reading.kind]:
            measurement = components.get(test.component)
            if measurement is None:
                continue
            seq += 1
            standard = plain_number(measurement.value)
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
                    format(measurement.original_value, "f"),
                    measurement.original_unit,
                    standard,
                    standard,
                    measurement.unit,
                    dtc,
                    end,
                    day,
                )
            )
