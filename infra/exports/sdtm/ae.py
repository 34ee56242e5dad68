"""AE, Adverse Events: each event the site recorded or confirmed, with its coded fields.

A report the site has not yet confirmed stays out: its term is still the participant's own
words, which no export carries. AETERM is the term site staff recorded. MedDRA LLT/PT codes
are exported as recorded; the higher MedDRA levels (HLT, HLGT, SOC), which Hearth does not
derive (no dictionary is shipped), are left empty.
"""

from __future__ import annotations

from domain.adverse_events import (
    ActionTaken,
    AdverseEventOutcome,
    AdverseEventStatus,
    Relationship,
    Seriousness,
    Severity,
)
from infra.exports.model import Subject
from infra.exports.sdtm.domain import Domain, Output
from infra.exports.sdtm.study import SubjectContext
from infra.exports.sdtm.variables import Var, identifiers, sequence, var

SEVERITY = {Severity.MILD: "MILD", Severity.MODERATE: "MODERATE", Severity.SEVERE: "SEVERE"}
GRADE = {s: s.value.removeprefix("GRADE_") for s in Severity if s.value.startswith("GRADE_")}
CAUSALITY = {
    Relationship.NOT_RELATED: "NOT RELATED",
    Relationship.UNLIKELY_RELATED: "UNLIKELY RELATED",
    Relationship.POSSIBLY_RELATED: "POSSIBLY RELATED",
    Relationship.PROBABLY_RELATED: "PROBABLY RELATED",
    Relationship.RELATED: "RELATED",
}
ACTION = {  # CDISC CT ACN
    ActionTaken.DOSE_NOT_CHANGED: "DOSE NOT CHANGED",
    ActionTaken.DOSE_REDUCED: "DOSE REDUCED",
    ActionTaken.DOSE_INCREASED: "DOSE INCREASED",
    ActionTaken.DRUG_INTERRUPTED: "DRUG INTERRUPTED",
    ActionTaken.DRUG_WITHDRAWN: "DRUG WITHDRAWN",
    ActionTaken.NOT_APPLICABLE: "NOT APPLICABLE",
    ActionTaken.UNKNOWN: "UNKNOWN",
}
OUTCOME = {  # CDISC CT OUT
    AdverseEventOutcome.RECOVERED: "RECOVERED/RESOLVED",
    AdverseEventOutcome.RECOVERING: "RECOVERING/RESOLVING",
    AdverseEventOutcome.NOT_RECOVERED: "NOT RECOVERED/NOT RESOLVED",
    AdverseEventOutcome.RECOVERED_WITH_SEQUELAE: "RECOVERED/RESOLVED WITH SEQUELAE",
    AdverseEventOutcome.FATAL: "FATAL",
    AdverseEventOutcome.UNKNOWN: "UNKNOWN",
}
CRITERIA = (  # AESCONG, AESDISAB, AESDTH, AESHOSP, AESLIFE, AESMIE in the IG's order
    ("AESCONG", "Congenital Anomaly or Birth Defect", Seriousness.CONGENITAL_ANOMALY),
    ("AESDISAB", "Persist or Signif Disability/Incapacity", Seriousness.DISABILITY),
    ("AESDTH", "Results in Death", Seriousness.DEATH),
    ("AESHOSP", "Requires or Prolongs Hospitalization", Seriousness.HOSPITALISATION),
    ("AESLIFE", "Is Life Threatening", Seriousness.LIFE_THREATENING),
)


def _qualifier(name: str, label: str, notes: str, core: str = "Perm", **kw: str) -> Var:
    return var(name, label, notes, role="Record Qualifier", core=core, origin="Collected", **kw)


def _meddra(name: str, label: str, core: str, num: bool, notes: str) -> Var:
    return var(
        name,
        label,
        notes,
        role="Variable Qualifier",
        core=core,
        origin="Collected" if notes.startswith("As") else "Derived",
        data_type="integer" if num else "text",
    )


def _flag(criteria: tuple[Seriousness, ...], criterion: Seriousness) -> str:
    """Y or N for a serious event, empty for a non-serious one."""
    return ("Y" if criterion in criteria else "N") if criteria else ""


_NOT_DERIVED = "Empty: Hearth does not derive MedDRA levels above PT."


class AdverseEvents(Domain):
    name = "AE"
    label = "Adverse Events"
    klass = "EVENTS"
    structure = "One record per adverse event per subject"
    keys = ("STUDYID", "USUBJID", "AEDECOD", "AESTDTC")
    variables = (
        *identifiers("AE"),
        sequence("AE", "1.. per subject, by the time the event was reported."),
        var(
            "AETERM",
            "Reported Term for the Adverse Event",
            "The term site staff recorded (never the participant's own words).",
            role="Topic",
            core="Req",
            origin="Collected",
        ),
        _meddra("AELLT", "Lowest Level Term", "Exp", False, "As recorded by the site."),
        _meddra("AELLTCD", "Lowest Level Term Code", "Exp", True, "As recorded by the site."),
        var(
            "AEDECOD",
            "Dictionary-Derived Term",
            "The MedDRA preferred term recorded by the site.",
            role="Synonym Qualifier",
            core="Req",
            origin="Collected",
        ),
        _meddra("AEPTCD", "Preferred Term Code", "Exp", True, "As recorded by the site."),
        _meddra("AEHLT", "High Level Term", "Exp", False, _NOT_DERIVED),
        _meddra("AEHLTCD", "High Level Term Code", "Exp", True, _NOT_DERIVED),
        _meddra("AEHLGT", "High Level Group Term", "Exp", False, _NOT_DERIVED),
        _meddra("AEHLGTCD", "High Level Group Term Code", "Exp", True, _NOT_DERIVED),
        var(
            "AEBODSYS",
            "Body System or Organ Class",
            _NOT_DERIVED,
            role="Record Qualifier",
            core="Exp",
        ),
        _meddra("AEBDSYCD", "Body System or Organ Class Code", "Exp", True, _NOT_DERIVED),
        _meddra("AESOC", "Primary System Organ Class", "Exp", False, _NOT_DERIVED),
        _meddra("AESOCCD", "Primary System Organ Class Code", "Exp", True, _NOT_DERIVED),
        _qualifier("AESEV", "Severity/Intensity", "MILD, MODERATE or SEVERE (CT AESEV)."),
        _qualifier("AESER", "Serious Event", "Y when any seriousness criterion holds.", "Exp"),
        _qualifier("AEACN", "Action Taken with Study Treatment", "CT ACN.", "Exp"),
        _qualifier("AEREL", "Causality", "As the investigator assessed it.", "Exp"),
        _qualifier("AEOUT", "Outcome of Adverse Event", "CT OUT."),
        *(_qualifier(n, label, "Y or N for a serious event.") for n, label, _ in CRITERIA),
        _qualifier("AESMIE", "Other Medically Important Serious Event", "Y or N (serious)."),
        _qualifier("AETOXGR", "Standard Toxicity Grade", "The CTCAE grade, 1 to 5."),
        var(
            "AESTDTC",
            "Start Date/Time of Adverse Event",
            "The onset, a date that may lack its day or month.",
            role="Timing",
            core="Exp",
            origin="Collected",
            data_type="date",
        ),
        var(
            "AEENDTC",
            "End Date/Time of Adverse Event",
            "The end, a date that may lack its day or month; empty while ongoing.",
            role="Timing",
            core="Exp",
            origin="Collected",
            data_type="date",
        ),
        var(
            "AESTDY",
            "Study Day of Start of Adverse Event",
            "From a complete AESTDTC and RFSTDTC.",
            role="Timing",
            data_type="integer",
        ),
        var(
            "AEENDY",
            "Study Day of End of Adverse Event",
            "From a complete AEENDTC and RFSTDTC.",
            role="Timing",
            data_type="integer",
        ),
        var(
            "AEENRF",
            "End Relative to Reference Period",
            "ONGOING when the site recorded the event as ongoing.",
            role="Timing",
        ),
    )

    async def write(self, who: SubjectContext, subject: Subject, out: Output) -> None:
        recorded = [e for e in subject.adverse_events if e.status is AdverseEventStatus.RECORDED]
        for seq, event in enumerate(recorded, start=1):
            d = event.details
            serious = bool(d.seriousness)
            start, end = d.onset or "", d.end or ""
            out.row(
                (
                    who.study_id,
                    "AE",
                    who.usubjid,
                    seq,
                    d.term,
                    d.llt_name or "",
                    int(d.llt_code) if d.llt_code else "",
                    d.pt_name or "",
                    int(d.pt_code) if d.pt_code else "",
                    *("",) * 8,
                    SEVERITY.get(d.severity, "") if d.severity else "",
                    "Y" if serious else "N",
                    ACTION[d.action_taken] if d.action_taken else "",
                    CAUSALITY[d.relationship] if d.relationship else "",
                    OUTCOME[d.outcome] if d.outcome else "",
                    *(_flag(d.seriousness, c) for _, _, c in CRITERIA),
                    _flag(d.seriousness, Seriousness.MEDICALLY_IMPORTANT),
                    GRADE.get(d.severity, "") if d.severity else "",
                    start,
                    end,
                    who.day_of(start) if len(start) == 10 else "",
                    who.day_of(end) if len(end) == 10 else "",
                    "ONGOING" if d.ongoing else "",
                )
            )
