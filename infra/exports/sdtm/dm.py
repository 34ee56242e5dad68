"""DM, Demographics: one row per participant."""

from __future__ import annotations

from infra.exports.model import Subject
from infra.exports.sdtm.domain import Domain, Output
from infra.exports.sdtm.study import SubjectContext
from infra.exports.sdtm.terms import AGE_UNIT, ENDED, SEX_UNKNOWN
from infra.exports.sdtm.variables import identifiers, var

_RQ = "Record Qualifier"


class Demographics(Domain):
    name = "DM"
    label = "Demographics"
    klass = "SPECIAL PURPOSE"
    structure = "One record per subject"
    keys = ("STUDYID", "USUBJID")
    variables = (
        *identifiers("DM"),
        var(
            "SUBJID",
            "Subject Identifier for the Study",
            "The random pseudonymous study subject id.",
            role="Topic",
            core="Req",
            origin="Assigned",
        ),
        var(
            "RFSTDTC",
            "Subject Reference Start Date/Time",
            "Enrolment date (a date); empty until enrolled.",
            role=_RQ,
            core="Exp",
            origin="Collected",
            data_type="date",
        ),
        var(
            "RFENDTC",
            "Subject Reference End Date/Time",
            "End of participation (as RFPENDTC) of a COMPLETED or WITHDRAWN subject.",
            role=_RQ,
            core="Exp",
            data_type="datetime",
        ),
        var(
            "RFXSTDTC",
            "Date/Time of First Study Treatment",
            "Empty: Hearth records no study treatment.",
            role=_RQ,
            core="Exp",
            data_type="datetime",
        ),
        var(
            "RFXENDTC",
            "Date/Time of Last Study Treatment",
            "Empty: Hearth records no study treatment.",
            role=_RQ,
            core="Exp",
            data_type="datetime",
        ),
        var(
            "RFICDTC",
            "Date/Time of Informed Consent",
            "First consent signature, subject's time zone with offset.",
            role=_RQ,
            core="Exp",
            origin="Collected",
            data_type="datetime",
        ),
        var(
            "RFPENDTC",
            "Date/Time of End of Participation",
            "Status change time of a COMPLETED or WITHDRAWN subject.",
            role=_RQ,
            core="Exp",
            data_type="datetime",
        ),
        var(
            "DTHDTC",
            "Date/Time of Death",
            "Empty: Hearth records no deaths.",
            role=_RQ,
            core="Exp",
            data_type="datetime",
        ),
        var(
            "DTHFL", "Subject Death Flag", "Empty: Hearth records no deaths.", role=_RQ, core="Exp"
        ),
        var(
            "SITEID",
            "Study Site Identifier",
            "The site code.",
            role=_RQ,
            core="Req",
            origin="Assigned",
        ),
        var(
            "AGE",
            "Age",
            "Completed years at RFSTDTC from the sealed date of birth (the date is never "
            "exported); empty without either.",
            role=_RQ,
            core="Exp",
            data_type="integer",
        ),
        var(
            "AGEU",
            "Age Units",
            "YEARS when AGE is given.",
            role="Variable Qualifier",
            core="Exp",
            origin="Assigned",
        ),
        var(
            "SEX",
            "Sex",
            "U (unknown): Hearth does not collect sex.",
            role=_RQ,
            core="Req",
            origin="Assigned",
        ),
        var(
            "RACE",
            "Race",
            "Empty: Hearth does not collect race.",
            role=_RQ,
            core="Exp",
            origin="Assigned",
        ),
        var(
            "ARMCD",
            "Planned Arm Code",
            "Arm code; see codes.csv.",
            role=_RQ,
            core="Exp",
            origin="Assigned",
        ),
        var(
            "ARM",
            "Description of Planned Arm",
            "Arm name.",
            role="Synonym Qualifier",
            core="Exp",
            origin="Assigned",
        ),
        var(
            "ACTARMCD",
            "Actual Arm Code",
            "Same as ARMCD: Hearth keeps one arm per subject.",
            role=_RQ,
            core="Exp",
        ),
        var(
            "ACTARM",
            "Description of Actual Arm",
            "Same as ARM.",
            role="Synonym Qualifier",
            core="Exp",
        ),
        var(
            "ARMNRS",
            "Reason Arm and/or Actual Arm is Null",
            "NOT ASSIGNED when there is no arm.",
            role=_RQ,
            core="Exp",
        ),
        var(
            "ACTARMUD",
            "Description of Unplanned Actual Arm",
            "Empty: the actual arm is always the planned one.",
            role=_RQ,
            core="Exp",
        ),
        var(
            "COUNTRY",
            "Country",
            "Site country, ISO 3166-1 alpha-3.",
            role=_RQ,
            core="Req",
            origin="Assigned",
        ),
        var(
            "DMDTC",
            "Date/Time of Collection",
            "Registration time, subject's time zone with offset.",
            role="Timing",
            origin="Collected",
            data_type="datetime",
        ),
    )

    async def write(self, who: SubjectContext, subject: Subject, out: Output) -> None:
        info = subject.info
        site_code, country = who.study.sites.get(info.site_id, ("", ""))
        arm_code, arm_name = who.study.arms.get(info.arm_id, ("", "")) if info.arm_id else ("", "")
        consented = min((c.signed_at for c in subject.consents), default=None)
        ended = who.local(info.status_changed_at if info.status in ENDED else None)
        age = "" if info.age is None else info.age
        out.row(
            (
                who.study_id,
                "DM",
                who.usubjid,
                info.subject_id,
                "" if info.enrolled_on is None else info.enrolled_on.isoformat(),
                ended,
                "",
                "",
                who.local(consented),
                ended,
                "",
                "",
                site_code,
                age,
                AGE_UNIT if age != "" else "",
                SEX_UNKNOWN,
                "",
                arm_code,
                arm_name,
                arm_code,
                arm_name,
                "" if arm_code else "NOT ASSIGNED",
                "",
                country,
                who.local(info.registered_at),
            )
        )
