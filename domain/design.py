"""Study design: arms and the schedule of assessments (visit definitions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from domain import values
from domain.errors import Invalid
from domain.ids import ArmId, StudyId, VisitDefinitionId, new_id


class ContactMode(StrEnum):
    VIDEO = "VIDEO"
    PHONE = "PHONE"
    HOME_NURSE = "HOME_NURSE"
    SITE = "SITE"


@dataclass(frozen=True)
class Arm:
    ENTITY: ClassVar[str] = "Arm"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: ArmId
    study_id: StudyId
    code: str
    name: str
    created_at: datetime

    @classmethod
    def new(cls, *, study_id: StudyId, code: str, name: str, now: datetime) -> Arm:
        return cls(
            id=ArmId(new_id()),
            study_id=study_id,
            code=values.code(code, "code"),
            name=values.text(name, "name"),
            created_at=now,
        )


@dataclass(frozen=True)
class VisitDefinition:
    """A planned visit: on day `day` after enrolment, allowed `window_before`/`after` days off."""

    ENTITY: ClassVar[str] = "VisitDefinition"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: VisitDefinitionId
    study_id: StudyId
    code: str
    name: str
    day: int
    window_before: int
    window_after: int
    modes: tuple[ContactMode, ...]
    created_at: datetime

    @classmethod
    def new(
        cls,
        *,
        study_id: StudyId,
        code: str,
        name: str,
        day: int,
        window_before: int,
        window_after: int,
        modes: tuple[ContactMode, ...],
        now: datetime,
    ) -> VisitDefinition:
        if not -365 <= day <= 3650:
            raise Invalid("day", "Use a day between -365 and 3650 after enrolment.")
        if not (0 <= window_before <= 365 and 0 <= window_after <= 365):
            raise Invalid("window_before", "Windows are 0-365 days.")
        if not modes:
            raise Invalid("modes", "Allow at least one contact mode.")
        visit_code = values.code(code, "code")
        if len(visit_code) > 8:  # SDTM VISIT codes and SV rows stay short
            raise Invalid("code", "Visit codes are at most 8 characters.")
        return cls(
            id=VisitDefinitionId(new_id()),
            study_id=study_id,
            code=visit_code,
            name=values.text(name, "name"),
            day=day,
            window_before=window_before,
            window_after=window_after,
            modes=tuple(dict.fromkeys(modes)),
            created_at=now,
        )

    def window(self, enrolled_on: date) -> tuple[date, date]:
        """The first and last local dates on which this visit is in its window."""
        target = enrolled_on + timedelta(days=self.day)
        return target - timedelta(days=self.window_before), target + timedelta(
            days=self.window_after
        )
