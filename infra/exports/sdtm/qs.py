"""QS, Questionnaires: one row per answered, exported item of each ACCEPTED diary entry.

Quarantined entries are left out; corrected entries give their current answers. FREE_TEXT
items are never written, even if an answer were present; unanswered items get no row. A
multiple-choice answer gives one row per selected choice (in the item's choice order), all
with the item's QSTESTCD. QSORRES/QSSTRESC hold choice codes, numbers, plain dates, local
times (HH:MM[:SS], no offset: a time of day, not a timestamp) or date-times with offset as
answered; QSSTRESN is set for INTEGER, SCALE, DECIMAL and VAS items (trailing zeros
dropped). QSCAT is the questionnaire code, QSSCAT the version the entry answered, QSDTC the
completion time with the device's offset, QSGRPID the per-subject number of the entry,
QSTPTREF "DIARY DUE" with QSRFTDTC the due time in the zone the subject was in then. SUPPQS
(IDVAR QSGRPID) gives each entry's timeliness and flags one collected under a consent
version since replaced. An ACCEPTED entry whose questionnaire version is missing from the
metadata raises ValueError: a silently incomplete QS would be worse.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from domain.diaries import EntryStatus
from domain.questionnaires import Item, ItemType, PlainAnswer
from infra.exports.model import Subject
from infra.exports.sdtm.domain import Domain, Output, Qualifier
from infra.exports.sdtm.study import SubjectContext, dtc, plain_number, study_day
from infra.exports.sdtm.variables import identifiers, sequence, var

_NUMERIC_ITEMS = frozenset({ItemType.INTEGER, ItemType.SCALE, ItemType.DECIMAL, ItemType.VAS})


class Questionnaires(Domain):
    name = "QS"
    label = "Questionnaires"
    klass = "FINDINGS"
    structure = "One record per questionnaire per question per time point per visit per subject"
    keys = ("STUDYID", "USUBJID", "QSCAT", "QSTESTCD", "QSDTC")
    idvar = "QSGRPID"
    variables = (
        *identifiers("QS"),
        sequence("QS", "1.. per subject: entries by due time, items in questionnaire order."),
        var(
            "QSGRPID",
            "Group ID",
            "Per-subject number of the diary entry; groups its rows.",
            role="Identifier",
        ),
        var(
            "QSTESTCD",
            "Question Short Name",
            "Derived per (QSCAT, item code), unique and stable; mapping in codes.csv.",
            role="Topic",
            core="Req",
        ),
        var(
            "QSTEST",
            "Question Name",
            "The question in the study language, <= 40 (define.xml has it whole).",
            role="Synonym Qualifier",
            core="Req",
        ),
        var(
            "QSCAT",
            "Category of Question",
            "The questionnaire code.",
            role="Grouping Qualifier",
            core="Req",
            origin="Assigned",
        ),
        var(
            "QSSCAT",
            "Subcategory for Question",
            "The questionnaire version the entry answered.",
            role="Grouping Qualifier",
            origin="Assigned",
        ),
        var(
            "QSORRES",
            "Finding in Original Units",
            "As answered: choice code (one row per selected choice), number, date, local time "
            "or date-time with offset. Free text is never exported.",
            role="Result Qualifier",
            core="Exp",
            origin="Collected",
        ),
        var(
            "QSORRESU",
            "Original Units",
            "The item's UCUM unit.",
            role="Variable Qualifier",
            origin="Assigned",
        ),
        var(
            "QSSTRESC",
            "Character Result/Finding in Std Format",
            "QSORRES; numbers normalised.",
            role="Result Qualifier",
            core="Exp",
        ),
        var(
            "QSSTRESN",
            "Numeric Finding in Standard Units",
            "For INTEGER, SCALE, DECIMAL and VAS items.",
            role="Result Qualifier",
            data_type="float",
        ),
        var(
            "QSSTRESU",
            "Standard Units",
            "The item's UCUM unit.",
            role="Variable Qualifier",
            origin="Assigned",
        ),
        var(
            "QSLOBXFL",
            "Last Observation Before Exposure Flag",
            "Empty: Hearth records no study treatment.",
            role="Record Qualifier",
            core="Exp",
        ),
        var(
            "VISITNUM",
            "Visit Number",
            "Empty: diaries are not visits.",
            role="Timing",
            core="Exp",
            data_type="float",
        ),
        var(
            "QSDTC",
            "Date/Time of Finding",
            "Completion time with the device's offset.",
            role="Timing",
            core="Exp",
            origin="Collected",
            data_type="datetime",
        ),
        var(
            "QSDY",
            "Study Day of Finding",
            "From QSDTC's local date and RFSTDTC.",
            role="Timing",
            data_type="integer",
        ),
        var("QSTPTREF", "Time Point Reference", "DIARY DUE.", role="Timing", origin="Assigned"),
        var(
            "QSRFTDTC",
            "Date/Time of Reference Time Point",
            "Due time of the diary occurrence, subject's time zone with offset.",
            role="Timing",
            data_type="datetime",
        ),
    )
    qualifiers = (
        Qualifier("QSTIMELY", "Diary Entry Timeliness", "Derived", "ON_TIME or LATE."),
        Qualifier(
            "QSCONSUP",
            "Collected Under Superseded Consent",
            "Derived",
            "Y: completed under a consent version replaced since.",
        ),
    )

    async def write(self, who: SubjectContext, subject: Subject, out: Output) -> None:
        seq = 0
        group = 0
        for entry in subject.entries:
            if entry.status is not EntryStatus.ACCEPTED:
                continue
            key = (entry.questionnaire_code, entry.questionnaire_version)
            version = who.study.versions.get(key)
            if version is None:
                raise ValueError(
                    f"Questionnaire {entry.questionnaire_code} version "
                    f"{entry.questionnaire_version} is not in the snapshot's metadata."
                )
            group += 1
            completed = dtc(entry.completed_at)
            day = study_day(entry.completed_at.date(), who.reference)
            due = who.local(entry.due_at)
            for item in version.items:
                test = who.study.qs_tests.get((version.code, item.code))
                answer = entry.answers.get(item.code)
                if item.is_free_text or test is None or answer is None:
                    continue
                unit = item.unit or ""
                for original, standard, number in qs_results(item, answer):
                    seq += 1
                    out.row(
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
                            unit,
                            standard,
                            number,
                            unit,
                            "",
                            "",
                            completed,
                            day,
                            "DIARY DUE",
                            due,
                        )
                    )
            out.supp(who, group, "QSTIMELY", entry.timeliness.value)
            if entry.consent_superseded:
                out.supp(who, group, "QSCONSUP", "Y")


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
