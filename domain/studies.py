"""Studies and their sites: the containers every participant and record belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from domain import values
from domain.ids import SiteId, StudyId, new_id


@dataclass(frozen=True)
class Study:
    ENTITY: ClassVar[str] = "Study"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: StudyId
    code: str
    title: str
    created_at: datetime
    version: int = 1

    @classmethod
    def new(cls, *, code: str, title: str, now: datetime) -> Study:
        return cls(
            id=StudyId(new_id()),
            code=values.code(code, "code"),
            title=values.text(title, "title"),
            created_at=now,
        )


@dataclass(frozen=True)
class Site:
    ENTITY: ClassVar[str] = "Site"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: SiteId
    study_id: StudyId
    code: str
    name: str
    country: str
    timezone: str
    created_at: datetime
    version: int = 1

    @classmethod
    def new(
        cls, *, study_id: StudyId, code: str, name: str, country: str, timezone: str, now: datetime
    ) -> Site:
        return cls(
            id=SiteId(new_id()),
            study_id=study_id,
            code=values.code(code, "code"),
            name=values.text(name, "name"),
            country=values.country(country, "country"),
            timezone=values.timezone(timezone, "timezone"),
            created_at=now,
        )
