"""Concomitant medications: reported by the participant from the app or recorded by site
staff, with the coded fields a sponsor needs (a WHODrug-style code as a plain field), confirmed
by the site and corrected with a coded reason."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

from domain.adverse_events import partial_date
from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import ParticipantId, SiteId, StudyId, new_id
from domain.reason_codes import ReasonCode


class MedicationStatus(StrEnum):
    REPORTED = "REPORTED"  # by the participant, not yet reviewed by the site
    RECORDED = "RECORDED"  # recorded or confirmed by site staff


class Route(StrEnum):
    """Route of administration (CDISC CT ROUTE)."""

    ORAL = "ORAL"
    SUBLINGUAL = "SUBLINGUAL"
    TOPICAL = "TOPICAL"
    TRANSDERMAL = "TRANSDERMAL"
    INTRAVENOUS = "INTRAVENOUS"
    INTRAMUSCULAR = "INTRAMUSCULAR"
    SUBCUTANEOUS = "SUBCUTANEOUS"
    INHALATION = "INHALATION"
    NASAL = "NASAL"
    OPHTHALMIC = "OPHTHALMIC"
    RECTAL = "RECTAL"
    VAGINAL = "VAGINAL"
    OTHER = "OTHER"


class Frequency(StrEnum):
    """Dosing frequency (CDISC CT FREQ)."""

    ONCE = "ONCE"
    QD = "QD"  # once a day
    BID = "BID"
    TID = "TID"
    QID = "QID"
    QOD = "QOD"  # every other day
    QW = "QW"  # once a week
    QM = "QM"  # once a month
    PRN = "PRN"  # as needed
    OTHER = "OTHER"


_DOSE = re.compile(r"^\d{1,9}(?:\.\d{1,6})?$")
# UCUM's printable ASCII, no spaces (e.g. mg, mL, [iU], ug/h, {tbl}).
_UCUM = re.compile(r"^[!-~]{1,30}$")


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise Invalid(field, "Write the name of the medication.")
        return None
    text = value.strip()
    if len(text) > limit or "\x00" in text:
        raise Invalid(field, f"Write at most {limit} characters.")
    return text


def _who_drug(value: str | None) -> str | None:
    """A WHODrug-style code as a plain field (drug record number and sequence numbers, e.g.
    000200010010): digits only, no dictionary shipped."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 20:
        raise Invalid("drug_code", "A WHODrug code is up to 20 digits.")
    return text


def _dose(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _DOSE.match(text) is None:
        raise Invalid("dose", "Give the dose as a number such as 500 or 2.5.")
    return text


def _unit(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _UCUM.match(text) is None or text.count("[") != text.count("]"):
        raise Invalid("dose_unit", "Give the unit in UCUM, such as mg, mL or [iU].")
    return text


@dataclass(frozen=True)
class MedicationDetails:
    """What SDTM CM and a FHIR MedicationStatement carry; none of it is personal."""

    name: str  # CMTRT: the name as reported
    drug_code: str | None = None  # WHODrug-style code
    coded_name: str | None = None  # CMDECOD: the dictionary name
    dose: str | None = None  # a decimal number as text, exact
    dose_unit: str | None = None  # UCUM
    route: Route | None = None
    frequency: Frequency | None = None
    start: str | None = None  # partial ISO 8601 date
    end: str | None = None
    ongoing: bool = False
    indication: str | None = None

    def checked(self) -> MedicationDetails:
        start = partial_date(self.start, "start")
        end = partial_date(self.end, "end")
        if end is not None and start is not None and end[: len(start)] < start[: len(end)]:
            raise Invalid("end", "The end is before the start.")
        if self.ongoing and end is not None:
            raise Invalid("end", "A medication still taken has no end date.")
        dose = _dose(self.dose)
        unit = _unit(self.dose_unit)
        if unit is not None and dose is None:
            raise Invalid("dose", "Give the dose with its unit.")
        return dataclasses.replace(
            self,
            name=_text(self.name, "name", 200, required=True) or "",
            drug_code=_who_drug(self.drug_code),
            coded_name=_text(self.coded_name, "coded_name", 200),
            dose=dose,
            dose_unit=unit,
            start=start,
            end=end,
            indication=_text(self.indication, "indication", 200),
        )


@dataclass(frozen=True)
class ConcomitantMedication:
    ENTITY: ClassVar[str] = "ConcomitantMedication"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False  # corrections need a reason code: see `corrected`

    id: uuid.UUID
    study_id: StudyId
    site_id: SiteId
    participant_id: ParticipantId
    status: MedicationStatus
    reported_by_participant: bool
    details: MedicationDetails
    reported_at: datetime
    recorded_at: datetime | None = None
    recorded_by: uuid.UUID | None = None
    reason_code: ReasonCode | None = None  # of the latest correction
    version: int = 1

    @classmethod
    def reported(
        cls,
        *,
        study_id: StudyId,
        site_id: SiteId,
        participant_id: ParticipantId,
        details: MedicationDetails,
        now: datetime,
    ) -> ConcomitantMedication:
        """From the participant's app: what they take, as they name it. The coded fields are
        the site's to fill when it confirms."""
        plain = dataclasses.replace(details, drug_code=None, coded_name=None)
        return cls(
            id=new_id(),
            study_id=study_id,
            site_id=site_id,
            participant_id=participant_id,
            status=MedicationStatus.REPORTED,
            reported_by_participant=True,
            details=plain.checked(),
            reported_at=now,
        )

    @classmethod
    def recorded(
        cls,
        *,
        study_id: StudyId,
        site_id: SiteId,
        participant_id: ParticipantId,
        details: MedicationDetails,
        by: uuid.UUID,
        now: datetime,
    ) -> ConcomitantMedication:
        return cls(
            id=new_id(),
            study_id=study_id,
            site_id=site_id,
            participant_id=participant_id,
            status=MedicationStatus.RECORDED,
            reported_by_participant=False,
            details=details.checked(),
            reported_at=now,
            recorded_at=now,
            recorded_by=by,
        )

    def confirmed(
        self, details: MedicationDetails, by: uuid.UUID, now: datetime
    ) -> ConcomitantMedication:
        if self.status is not MedicationStatus.REPORTED:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "This medication is recorded already; correct it with a reason code.",
            )
        return dataclasses.replace(
            self,
            status=MedicationStatus.RECORDED,
            details=details.checked(),
            recorded_at=now,
            recorded_by=by,
            version=self.version + 1,
        )

    def corrected(self, details: MedicationDetails, code: ReasonCode) -> ConcomitantMedication:
        if self.status is not MedicationStatus.RECORDED:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "Confirm the participant's report before correcting."
            )
        return dataclasses.replace(
            self, details=details.checked(), reason_code=code, version=self.version + 1
        )


class MedicationRepository(Protocol):
    async def add(self, medication: ConcomitantMedication) -> None: ...
    async def get(self, medication_id: uuid.UUID) -> ConcomitantMedication | None: ...

    async def update(self, medication: ConcomitantMedication) -> None:
        """STALE_VERSION if it moved on meanwhile."""
        ...

    async def of_participant(
        self, participant_id: ParticipantId
    ) -> Sequence[ConcomitantMedication]:
        """Their medications, oldest report first."""
        ...
