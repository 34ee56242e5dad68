"""What the SDTM domains share per study and per subject: codes looked up once, USUBJID, the
reference start, study days, and --DTC text (ISO 8601 to the second, with the UTC offset)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.design import VisitDefinition
from domain.questionnaires import QuestionnaireVersion
from infra.exports.model import Meta, Subject, SubjectInfo
from infra.exports.sdtm.qs_tests import QsTest, qs_test_codes
from infra.exports.sdtm.terms import ALPHA3


@dataclass(frozen=True)
class StudyContext:
    study_id: str
    sites: Mapping[object, tuple[str, str]]  # site id -> (code, alpha-3 country)
    arms: Mapping[object, tuple[str, str]]  # arm id -> (code, name)
    visits: Mapping[object, tuple[int, VisitDefinition]]  # definition id -> (VISITNUM, def)
    versions: Mapping[tuple[str, int], QuestionnaireVersion]
    qs_tests: Mapping[tuple[str, str], QsTest]

    @classmethod
    def of(cls, meta: Meta) -> StudyContext:
        return cls(
            study_id=meta.study.code,
            sites={s.id: (s.code, ALPHA3.get(s.country, s.country)) for s in meta.sites},
            arms={a.id: (a.code, a.name) for a in meta.arms},
            visits={d.id: (n, d) for n, d in enumerate(meta.visit_definitions, start=1)},
            versions={
                (q.definition.code, q.definition.version): q.definition for q in meta.questionnaires
            },
            qs_tests=qs_test_codes(meta.questionnaires),
        )


@dataclass
class SubjectContext:
    study: StudyContext
    study_id: str
    usubjid: str
    info: SubjectInfo  # its zone history dates local times
    reference: date | None  # RFSTDTC
    _days: dict[str, int | str] = field(default_factory=dict)

    @classmethod
    def of(cls, study: StudyContext, subject: Subject) -> SubjectContext:
        info = subject.info
        return cls(
            study=study,
            study_id=study.study_id,
            usubjid=f"{study.study_id}-{info.subject_id}",
            info=info,
            reference=info.enrolled_on,
        )

    def local(self, moment: datetime | None) -> str:
        """In the zone the subject was in at that moment (not today's: they may have moved)."""
        if moment is None:
            return ""
        return dtc(moment.astimezone(ZoneInfo(self.info.zone_at(moment))))

    def day_of(self, text: str) -> int | str:
        """Study day of an ISO 8601 date-time's own (local) date; cached: readings of one
        subject fall on few days."""
        day = text[:10]
        found = self._days.get(day)
        if found is None:
            found = self._days[day] = study_day(date.fromisoformat(day), self.reference)
        return found


def dtc(moment: datetime) -> str:
    """--DTC: ISO 8601 to the second, with the moment's own offset (no microseconds)."""
    return moment.replace(microsecond=0).isoformat()


def dtc_text(iso: str) -> str:
    """--DTC from `datetime.isoformat()` text: the fraction of a second dropped."""
    if len(iso) > 25 and iso[19] == ".":
        return iso[:19] + iso[26:]
    return iso


def study_day(day: date, reference: date | None) -> int | str:
    """SDTM study day: RFSTDTC is day 1, the day before it day -1 (there is no day 0)."""
    if reference is None:
        return ""
    delta = (day - reference).days
    return delta + 1 if delta >= 0 else delta


def plain_number(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 72.000 -> "72", 1E+2 -> "100"."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def plain_text(text: str) -> str:
    """`plain_number` of decimal text, without building a Decimal in the common case."""
    if "E" in text or "e" in text:
        return plain_number(Decimal(text))
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "", "-") else text
