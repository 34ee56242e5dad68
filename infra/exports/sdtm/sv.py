"""SV, Subject Visits: one row per subject per visit (requirement 40).

Every completed visit; for a definition without one, the scheduled visit with the latest
start, else the latest cancelled one (SVOCCUR "N"). A definition's second completed visit is
an unplanned repeat: VISITNUM 2.01, VISIT "Week 1 (repeat 1)", SVPRESP and VISITDY empty,
SVUPDES saying so. VISITNUM is otherwise the 1-based position in `Meta.visit_definitions`
(by day, then code), VISITDY the planned study day (Hearth day 0, the enrolment day, is SDTM
day 1). SVOCCUR is "Y" for a completed visit whose outcome is DONE or PARTIALLY_DONE, "N" for
a cancelled one or a completed NOT_DONE/PARTICIPANT_UNREACHABLE one, and empty while only
scheduled; SVREASOC gives the coded reason (never notes). SVSTDTC/SVENDTC (start, and the
time it was marked complete) are set for completed visits only. Hearth's status, outcome and
scheduled start are in SUPPSV (QNAM SVSTATUS, SVOUTCOM, SVSCHDTC; IDVAR VISITNUM).
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from domain.design import VisitDefinition
from domain.visits import Visit, VisitStatus
from infra.exports.model import Subject
from infra.exports.sdtm.domain import Domain, Output, Qualifier
from infra.exports.sdtm.study import SubjectContext, dtc, study_day
from infra.exports.sdtm.terms import CONTACT_MODE, NOT_OCCURRED
from infra.exports.sdtm.variables import identifiers, var

_RQ = "Record Qualifier"


class SubjectVisits(Domain):
    name = "SV"
    label = "Subject Visits"
    klass = "SPECIAL PURPOSE"
    structure = "One record per actual or planned visit per subject"
    keys = ("STUDYID", "USUBJID", "VISITNUM")
    idvar = "VISITNUM"
    variables = (
        *identifiers("SV"),
        var(
            "VISITNUM",
            "Visit Number",
            "1-based position of the visit definition (by day, then code); .01 for a repeat.",
            role="Topic",
            core="Req",
            origin="Assigned",
            data_type="float",
        ),
        var(
            "VISIT",
            "Visit Name",
            "Visit definition name.",
            role="Synonym Qualifier",
            origin="Assigned",
        ),
        var(
            "SVPRESP",
            "Pre-specified",
            "Y for a protocol visit; empty for a repeat.",
            role="Variable Qualifier",
            core="Exp",
            origin="Assigned",
        ),
        var(
            "SVOCCUR",
            "Occurrence",
            "Y completed (DONE, PARTIALLY_DONE); N cancelled or not done; empty while scheduled.",
            role=_RQ,
            core="Exp",
        ),
        var(
            "SVREASOC",
            "Reason for Occur Value",
            "Coded reason when SVOCCUR is N (CANCELLED, NOT DONE, PARTICIPANT UNREACHABLE).",
            role=_RQ,
        ),
        var(
            "SVCNTMOD",
            "Contact Mode",
            "IN PERSON (site, home nurse), TELEPHONE CALL or REMOTE AUDIO VIDEO.",
            role=_RQ,
            origin="Collected",
        ),
        var(
            "VISITDY",
            "Planned Study Day of Visit",
            "Definition day + 1 when >= 0 (day 0 is enrolment = SDTM day 1), else the day.",
            role="Timing",
            origin="Assigned",
            data_type="integer",
        ),
        var(
            "SVSTDTC",
            "Start Date/Time of Observation",
            "Completed visits only: the start, visit time zone with offset.",
            role="Timing",
            core="Exp",
            origin="Collected",
            data_type="datetime",
        ),
        var(
            "SVENDTC",
            "End Date/Time of Observation",
            "Completed visits only: when marked complete, with offset.",
            role="Timing",
            core="Exp",
            origin="Collected",
            data_type="datetime",
        ),
        var(
            "SVSTDY",
            "Study Day of Start of Observation",
            "From SVSTDTC and RFSTDTC.",
            role="Timing",
            data_type="integer",
        ),
        var(
            "SVENDY",
            "Study Day of End of Observation",
            "From SVENDTC and RFSTDTC.",
            role="Timing",
            data_type="integer",
        ),
        var("SVUPDES", "Description of Unplanned Visit", "Repeat n of a protocol visit.", role=_RQ),
    )
    qualifiers = (
        Qualifier("SVSTATUS", "Visit Status", "Collected", "SCHEDULED, COMPLETED or CANCELLED."),
        Qualifier(
            "SVOUTCOM",
            "Visit Outcome",
            "Collected",
            "DONE, PARTIALLY_DONE, NOT_DONE or PARTICIPANT_UNREACHABLE.",
        ),
        Qualifier(
            "SVSCHDTC",
            "Scheduled Start Date/Time of Visit",
            "Collected",
            "The planned start, visit time zone with offset.",
        ),
    )

    async def write(self, who: SubjectContext, subject: Subject, out: Output) -> None:
        rows = []
        for definition_id, chosen in chosen_visits(subject.visits).items():
            if definition_id in who.study.visits:
                number, definition = who.study.visits[definition_id]
                for repeat, visit in enumerate(chosen):
                    rows.append(
                        ((number, repeat), visit, _row(who, number, definition, visit, repeat))
                    )
        for _, visit, row in sorted(rows, key=lambda found: found[0]):
            out.row(row)
            visitnum = row[3]
            out.supp(who, visitnum, "SVSTATUS", visit.status.value)
            if visit.outcome is not None:
                out.supp(who, visitnum, "SVOUTCOM", visit.outcome.value)
            out.supp(
                who, visitnum, "SVSCHDTC", dtc(visit.starts_at.astimezone(ZoneInfo(visit.timezone)))
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


def _row(
    who: SubjectContext, number: int, definition: VisitDefinition, visit: Visit, repeat: int
) -> tuple[object, ...]:
    zone = ZoneInfo(visit.timezone)
    completed = visit.status is VisitStatus.COMPLETED
    occurred, reason = _occurrence(visit)
    start = visit.starts_at.astimezone(zone) if completed else None
    end = visit.completed_at.astimezone(zone) if completed and visit.completed_at else None
    planned = definition.day + 1 if definition.day >= 0 else definition.day
    return (
        who.study_id,
        "SV",
        who.usubjid,
        f"{number}.{repeat:02d}" if repeat else number,
        f"{definition.name} (repeat {repeat})" if repeat else definition.name,
        "" if repeat else "Y",
        occurred,
        reason,
        CONTACT_MODE.get(visit.mode, ""),
        "" if repeat else planned,
        "" if start is None else dtc(start),
        "" if end is None else dtc(end),
        "" if start is None else study_day(start.date(), who.reference),
        "" if end is None else study_day(end.date(), who.reference),
        f"Repeat {repeat} of {definition.name}" if repeat else "",
    )


def _occurrence(visit: Visit) -> tuple[str, str]:
    """SVOCCUR and SVREASOC."""
    if visit.status is VisitStatus.CANCELLED:
        return "N", "CANCELLED"
    if visit.status is VisitStatus.SCHEDULED:
        return "", ""
    if visit.outcome in NOT_OCCURRED:
        return "N", NOT_OCCURRED[visit.outcome]
    return "Y", ""
