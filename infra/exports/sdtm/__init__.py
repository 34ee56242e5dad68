"""SDTM datasets (SDTMIG 3.4): DM, DS, SV, QS, VS and the SUPP-- datasets SUPPSV, SUPPQS and
SUPPVS, with define.xml (Define-XML 2.1) and the plain dictionary files define.csv and
codes.csv. The same domain writers feed the SDTM format (CSV) and the DATASET_JSON format.

CSV files are UTF-8 without a BOM, comma-separated, a header row of SDTM variable names,
fields quoted only when needed with `"` doubled inside quotes, and RFC 4180 "\\r\\n" line
endings (`SdtmDialect`; read them back with `csv.reader(f, dialect=SdtmDialect)` on a file
opened with `newline=""`). `WrittenFile.rows` counts data rows, never the header; `progress`
counts the datasets' rows, not the dictionary files'.

Each domain is a module (`dm`, `ds`, `sv`, `qs`, `vs`) on the skeleton of `domain`, listed
in `domains`; `supp` gives the SUPP-- variables, `datasets` the datasets in order, `study` the
shared context (USUBJID, reference start, study days, --DTC text), `terms` the controlled
terminology, `qs_tests` the derived QSTESTCD/QSTEST, `dictionary` define.csv and codes.csv,
`define_xml` define.xml, `runner` the pass over the subjects, `csv_format` the CSV files.

- DM: one row per participant. USUBJID is "STUDYID-SUBJID" where SUBJID is the random
  pseudonymous subject id. RFSTDTC is the enrolment date, RFICDTC the first consent
  signature, RFPENDTC and RFENDTC the status change of a COMPLETED or WITHDRAWN subject, DMDTC
  the registration time. AGE (AGEU YEARS) is computed at RFSTDTC from the sealed date of
  birth inside the export; the date itself is never exported. SEX is U: Hearth does not
  collect it. ACTARMCD/ACTARM repeat the planned arm; without an arm ARMNRS is NOT ASSIGNED.
  Treatment dates, death, race: not recorded, so empty.
- DS: each consent signed (PROTOCOL MILESTONE, INFORMED CONSENT OBTAINED) and the end of a
  completed (COMPLETED) or withdrawn (WITHDRAWAL BY SUBJECT) subject's participation.
- SV, QS, VS: see their modules.

Test codes (requirement 40) are at most 8 characters matching ^[A-Z_][A-Z0-9_]{0,7}$, test
labels at most 40 characters. --SEQ numbers run from 1 per subject within each domain in the
order rows are written. --DTC values are ISO 8601 to the second with the UTC offset; dates
are plain. Local times (due times, consent and end dates) are in the zone the participant was
in at that moment. Nothing written is a direct identifier, a free-text answer, a visit note
or an internal UUID.
"""

from infra.exports.sdtm.csv_format import write_sdtm
from infra.exports.sdtm.datasets import ALL, DATASETS
from infra.exports.sdtm.qs import qs_results
from infra.exports.sdtm.qs_tests import qs_test_codes
from infra.exports.sdtm.study import plain_number, study_day
from infra.exports.sdtm.sv import chosen_visits
from infra.exports.sdtm.tables import SdtmDialect
from infra.exports.sdtm.variables import MAX_LABEL
from infra.exports.sdtm.vs import VS_TESTS

__all__ = [
    "ALL",
    "DATASETS",
    "MAX_LABEL",
    "VS_TESTS",
    "SdtmDialect",
    "chosen_visits",
    "plain_number",
    "qs_results",
    "qs_test_codes",
    "study_day",
    "write_sdtm",
]
