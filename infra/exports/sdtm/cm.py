"""CM, Concomitant/Prior Medications: each medication the site recorded or confirmed.

A participant's report the site has not yet confirmed stays out (it is not coded yet).
CMTRT is the name as reported, CMDECOD the dictionary name the site recorded. The dose unit
is stored in UCUM: CMDOSU carries the CDISC UNIT term where one is known for it (else it
stays empty), and SUPPCM keeps the UCUM unit (CMUCUM) and the WHODrug-style code (CMDRGCD),
which no standard CM variable holds.
"""

from __future__ import annotations

from domain.medications import Frequency, MedicationStatus, Route
from infra.exports.model import Subject
from infra.exports.sdtm.domain import Domain, Output, Qualifier
from infra.exports.sdtm.study import SubjectContext
from infra.exports.sdtm.variables import identifiers, sequence, var

# UCUM -> CDISC CT UNIT, for the dose units medications are usually given in.
UNITS = {
    "mg": "mg",
    "g": "g",
    "ug": "ug",
    "mL": "mL",
    "L": "L",
    "[iU]": "IU",
    "[IU]": "IU",
    "{tbl}": "TABLET",
    "{tablet}": "TABLET",
    "{capsule}": "CAPSULE",
    "[drp]": "DROP",
    "{puff}": "PUFF",
    "mg/kg": "mg/kg",
    "%": "%",
}
ROUTES = {  # CDISC CT ROUTE
    Route.ORAL: "ORAL",
    Route.SUBLINGUAL: "SUBLINGUAL",
    Route.TOPICAL: "TOPICAL",
    Route.TRANSDERMAL: "TRANSDERMAL",
    Route.INTRAVENOUS: "INTRAVENOUS",
    Route.INTRAMUSCULAR: "INTRAMUSCULAR",
    Route.SUBCUTANEOUS: "SUBCUTANEOUS",
    Route.INHALATION: "RESPIRATORY (INHALATION)",
    Route.NASAL: "NASAL",
    Route.OPHTHALMIC: "OPHTHALMIC",
    Route.RECTAL: "RECTAL",
    Route.VAGINAL: "VAGINAL",
    Route.OTHER: "",
}
FREQUENCIES = {  # CDISC CT FREQ
    Frequency.ONCE: "ONCE",
    Frequency.QD: "QD",
    Frequency.BID: "BID",
    Frequency.TID: "TID",
    Frequency.QID: "QID",
    Frequency.QOD: "QOD",
    Frequency.QW: "QS",  # CT FREQ: "QS" is once a week (every seven days)
    Frequency.QM: "QM",
    Frequency.PRN: "PRN",
    Frequency.OTHER: "",
}
_RQ = "Record Qualifier"
_VQ = "Variable Qualifier"


class ConcomitantMedications(Domain):
    name = "CM"
    label = "Concomitant/Prior Medications"
    klass = "INTERVENTIONS"
    structure = "One record per recorded intervention occurrence or constant-dosing interval"
    keys = ("STUDYID", "USUBJID", "CMTRT", "CMSTDTC")
    idvar = "CMSEQ"
    variables = (
        *identifiers("CM"),
        sequence("CM", "1.. per subject, by the time the medication was reported."),
        var(
            "CMTRT",
            "Reported Name of Drug, Med, or Therapy",
            "The name as reported (by the participant or the site).",
            role="Topic",
            core="Req",
            origin="Collected",
        ),
        var(
            "CMDECOD",
            "Standardized Medication Name",
            "The WHODrug name the site recorded.",
            role="Synonym Qualifier",
            origin="Collected",
        ),
        var("CMINDC", "Indication", "As recorded.", role=_RQ, origin="Collected"),
        var(
            "CMDOSE",
            "Dose per Administration",
            "As recorded.",
            role=_RQ,
            origin="Collected",
            data_type="float",
        ),
        var(
            "CMDOSU",
            "Dose Units",
            "CDISC UNIT term of the UCUM unit recorded; empty where none is known (SUPPCM "
            "CMUCUM keeps the unit).",
            role=_VQ,
        ),
        var("CMDOSFRQ", "Dosing Frequency per Interval", "CT FREQ.", role=_VQ, origin="Collected"),
        var("CMROUTE", "Route of Administration", "CT ROUTE.", role=_VQ, origin="Collected"),
        var(
            "CMSTDTC",
            "Start Date/Time of Medication",
            "A date that may lack its day or month.",
            role="Timing",
            origin="Collected",
            data_type="date",
        ),
        var(
            "CMENDTC",
            "End Date/Time of Medication",
            "A date that may lack its day or month; empty while still taken.",
            role="Timing",
            origin="Collected",
            data_type="date",
        ),
        var(
            "CMSTDY",
            "Study Day of Start of Medication",
            "From a complete CMSTDTC and RFSTDTC.",
            role="Timing",
            data_type="integer",
        ),
        var(
            "CMENDY",
            "Study Day of End of Medication",
            "From a complete CMENDTC and RFSTDTC.",
            role="Timing",
            data_type="integer",
        ),
        var(
            "CMENRF",
            "End Relative to Reference Period",
            "ONGOING while the medication is still taken.",
            role="Timing",
        ),
    )
    qualifiers = (
        Qualifier("CMDRGCD", "WHODrug Code", "Collected", "The WHODrug-style code recorded."),
        Qualifier("CMUCUM", "Dose Unit (UCUM)", "Collected", "The dose unit as recorded."),
        Qualifier("CMRPTBY", "Reported By", "Collected", "PARTICIPANT (from the app) or SITE."),
    )

    async def write(self, who: SubjectContext, subject: Subject, out: Output) -> None:
        recorded = [m for m in subject.medications if m.status is MedicationStatus.RECORDED]
        for seq, medication in enumerate(recorded, start=1):
            d = medication.details
            start, end = d.start or "", d.end or ""
            out.row(
                (
                    who.study_id,
                    "CM",
                    who.usubjid,
                    seq,
                    d.name,
                    d.coded_name or "",
                    d.indication or "",
                    d.dose or "",
                    UNITS.get(d.dose_unit, "") if d.dose_unit else "",
                    FREQUENCIES[d.frequency] if d.frequency else "",
                    ROUTES[d.route] if d.route else "",
                    start,
                    end,
                    who.day_of(start) if len(start) == 10 else "",
                    who.day_of(end) if len(end) == 10 else "",
                    "ONGOING" if d.ongoing else "",
                )
            )
            if d.drug_code is not None:
                out.supp(who, seq, "CMDRGCD", d.drug_code)
            if d.dose_unit is not None:
                out.supp(who, seq, "CMUCUM", d.dose_unit)
            reporter = "PARTICIPANT" if medication.reported_by_participant else "SITE"
            out.supp(who, seq, "CMRPTBY", reporter)
