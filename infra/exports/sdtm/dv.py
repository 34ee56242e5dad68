"""DV, Protocol Deviations: each deviation staff recorded or the data raised.

DVTERM is the deviation as worded by staff (or by Hearth for one raised from the data),
DVCAT its category. The severity, how it was found (recorded by staff or raised
automatically), its status and its resolution, which no standard DV variable holds, are in
SUPPDV (QNAM DVSEV, DVSRC, DVSTAT, DVRESOL, DVRESDTC; IDVAR DVSEQ).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from domain.deviations import DeviationCategory
from infra.exports.model import Subject
from infra.exports.sdtm.domain import Domain, Output, Qualifier
from infra.exports.sdtm.study import SubjectContext, dtc
from infra.exports.sdtm.variables import identifiers, sequence, var

CATEGORIES = {
    DeviationCategory.VISIT_WINDOW: "VISIT OUT OF WINDOW",
    DeviationCategory.MISSED_ASSESSMENT: "MISSED ASSESSMENT",
    DeviationCategory.CONSENT: "INFORMED CONSENT",
    DeviationCategory.ELIGIBILITY: "ELIGIBILITY CRITERIA",
    DeviationCategory.STUDY_PROCEDURE: "STUDY PROCEDURE",
    DeviationCategory.INVESTIGATIONAL_PRODUCT: "INVESTIGATIONAL PRODUCT",
    DeviationCategory.OTHER: "OTHER",
}


class ProtocolDeviations(Domain):
    name = "DV"
    label = "Protocol Deviations"
    klass = "EVENTS"
    structure = "One record per protocol deviation"
    keys = ("STUDYID", "USUBJID", "DVTERM", "DVSTDTC")
    idvar = "DVSEQ"
    variables = (
        *identifiers("DV"),
        sequence("DV", "1.. per subject, by the time the deviation was detected."),
        var(
            "DVTERM",
            "Protocol Deviation Term",
            "As staff recorded it, or Hearth's wording for one raised from the data.",
            role="Topic",
            core="Req",
            origin="Collected",
        ),
        var(
            "DVCAT",
            "Category for Protocol Deviation",
            "VISIT OUT OF WINDOW, MISSED ASSESSMENT, INFORMED CONSENT, ELIGIBILITY CRITERIA, "
            "STUDY PROCEDURE, INVESTIGATIONAL PRODUCT or OTHER.",
            role="Grouping Qualifier",
            origin="Assigned",
        ),
        var(
            "DVSTDTC",
            "Start Date/Time of Deviation",
            "The day it happened, a date that may lack its day or month.",
            role="Timing",
            core="Exp",
            origin="Collected",
            data_type="date",
        ),
    )
    qualifiers = (
        Qualifier("DVSEV", "Deviation Severity", "Collected", "MINOR, MAJOR or CRITICAL."),
        Qualifier(
            "DVSRC",
            "Deviation Source",
            "Assigned",
            "STAFF (recorded) or AUTOMATIC (raised when the data was written).",
        ),
        Qualifier("DVSTAT", "Deviation Status", "Collected", "OPEN or RESOLVED."),
        Qualifier("DVRESOL", "Deviation Resolution", "Collected", "How it was resolved."),
        Qualifier(
            "DVRESDTC", "Date/Time of Resolution", "Collected", "When resolved, with offset."
        ),
    )

    async def write(self, who: SubjectContext, subject: Subject, out: Output) -> None:
        for seq, d in enumerate(subject.deviations, start=1):
            out.row(
                (
                    who.study_id,
                    "DV",
                    who.usubjid,
                    seq,
                    d.term,
                    CATEGORIES[d.category],
                    d.occurred_on or "",
                )
            )
            out.supp(who, seq, "DVSEV", d.severity.value)
            out.supp(who, seq, "DVSRC", d.source.value)
            out.supp(who, seq, "DVSTAT", d.status.value)
            if d.resolution is not None:
                out.supp(who, seq, "DVRESOL", d.resolution)
            if d.resolved_at is not None:
                zone = ZoneInfo(subject.info.zone_at(d.resolved_at))
                out.supp(who, seq, "DVRESDTC", dtc(d.resolved_at.astimezone(zone)))
