"""DS, Disposition: each consent signed (a protocol milestone) and how the subject left."""

from __future__ import annotations

from infra.exports.model import Subject
from infra.exports.sdtm.domain import Domain, Output
from infra.exports.sdtm.study import SubjectContext
from infra.exports.sdtm.terms import CONSENTED, DISPOSITION
from infra.exports.sdtm.variables import identifiers, sequence, var


class Disposition(Domain):
    name = "DS"
    label = "Disposition"
    klass = "EVENTS"
    structure = "One record per disposition status or protocol milestone per subject"
    keys = ("STUDYID", "USUBJID", "DSDECOD", "DSSTDTC")
    variables = (
        *identifiers("DS"),
        sequence("DS", "1.. per subject: consents by signing time, then the disposition."),
        var(
            "DSTERM",
            "Reported Term for the Disposition Event",
            "INFORMED CONSENT OBTAINED, COMPLETED or WITHDRAWN FROM STUDY (never a reason).",
            role="Topic",
            core="Req",
            origin="Assigned",
        ),
        var(
            "DSDECOD",
            "Standardized Disposition Term",
            "INFORMED CONSENT OBTAINED, COMPLETED or WITHDRAWAL BY SUBJECT.",
            role="Synonym Qualifier",
            core="Req",
            origin="Assigned",
        ),
        var(
            "DSCAT",
            "Category for Disposition Event",
            "PROTOCOL MILESTONE or DISPOSITION EVENT.",
            role="Grouping Qualifier",
            core="Exp",
            origin="Assigned",
        ),
        var(
            "DSSTDTC",
            "Start Date/Time of Disposition Event",
            "When it happened, subject's time zone with offset.",
            role="Timing",
            core="Exp",
            origin="Collected",
            data_type="datetime",
        ),
        var(
            "DSSTDY",
            "Study Day of Start of Disposition Event",
            "From DSSTDTC and RFSTDTC.",
            role="Timing",
            core="Exp",
            data_type="integer",
        ),
    )

    async def write(self, who: SubjectContext, subject: Subject, out: Output) -> None:
        info = subject.info
        events = [(CONSENTED, c.signed_at) for c in subject.consents]
        if info.status in DISPOSITION:
            events.append((DISPOSITION[info.status], info.status_changed_at))
        for seq, ((term, decod, category), moment) in enumerate(events, start=1):
            start = who.local(moment)
            out.row(
                (
                    who.study_id,
                    "DS",
                    who.usubjid,
                    seq,
                    term,
                    decod,
                    category,
                    start,
                    who.day_of(start),
                )
            )
