"""Finding records by type and id, and the filters of lists across records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.access import Scope
from domain.data_queries import QueryStatus
from domain.ids import ParticipantId, SiteId, StudyId
from domain.visits import VisitStatus


@dataclass(frozen=True)
class Located:
    """A record and where it sits; `record` is the domain object (with ENTITY and version)."""

    record: Any
    study_id: StudyId
    site_id: SiteId
    participant_id: ParticipantId

    @property
    def scope(self) -> Scope:
        return Scope(self.study_id, self.site_id, self.participant_id)


@dataclass(frozen=True)
class VisitFilter:
    site_id: SiteId | None = None
    participant_id: ParticipantId | None = None
    on: date | None = None  # local date at the site
    status: VisitStatus | None = None
    assignee_id: uuid.UUID | None = None
    upcoming_from: Any = None  # an aware datetime: only visits starting at or after it


@dataclass(frozen=True)
class QueryFilter:
    site_id: SiteId | None = None
    participant_id: ParticipantId | None = None
    status: QueryStatus | None = None
    record_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ReadingFilter:
    kind: Any = None  # a ReadingKind
    since: Any = None  # aware datetimes: effective start in [since, until)
    until: Any = None
    include_deleted: bool = False
