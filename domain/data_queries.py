"""Monitors' queries on data points: raised, answered by the site, closed by the monitor,
and reopened by the monitor (with a reason) when the answer did not settle it."""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from domain.errors import DomainError, ErrorCode, Invalid
from domain.ids import DataQueryId, ParticipantId, SiteId, StudyId, new_id


class QueryStatus(StrEnum):
    OPEN = "OPEN"
    ANSWERED = "ANSWERED"
    CLOSED = "CLOSED"


# A field of the record as the API names it ("screeningNumber"), a diary item code ("PAIN")
# or a path into the record ("answers.PAIN", "components.systolic"): kept exactly as given.
_FIELD_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$")
MAX_FIELD_LENGTH = 64


def field_path(value: str | None) -> str | None:
    """The field a query is about, unchanged (case included); None for the whole record."""
    if value is None or not value.strip():
        return None
    path = value.strip()
    if len(path) > MAX_FIELD_LENGTH or not _FIELD_PATH.match(path):
        raise Invalid(
            "field",
            f"Name a field, item code or dotted path of at most {MAX_FIELD_LENGTH} characters "
            "(letters, digits, '_', '-').",
        )
    return path


@dataclass(frozen=True)
class Target:
    """The data point a query is about: a record, and optionally one of its fields."""

    record_type: str
    record_id: uuid.UUID
    field: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", field_path(self.field))


@dataclass(frozen=True)
class DataQuery:
    ENTITY: ClassVar[str] = "DataQuery"
    PERSONAL: ClassVar[frozenset[str]] = frozenset({"question", "answer"})
    REASON_REQUIRED: ClassVar[bool] = False

    id: DataQueryId
    study_id: StudyId
    site_id: SiteId
    participant_id: ParticipantId
    record_type: str
    record_id: uuid.UUID
    field: str | None
    question: str
    status: QueryStatus
    raised_by: uuid.UUID
    raised_at: datetime
    answer: str | None = None
    answered_by: uuid.UUID | None = None
    answered_at: datetime | None = None
    closed_by: uuid.UUID | None = None
    closed_at: datetime | None = None
    version: int = 1

    @classmethod
    def raise_(
        cls,
        *,
        study_id: StudyId,
        site_id: SiteId,
        participant_id: ParticipantId,
        target: Target,
        question: str,
        by: uuid.UUID,
        now: datetime,
    ) -> DataQuery:
        return cls(
            id=DataQueryId(new_id()),
            study_id=study_id,
            site_id=site_id,
            participant_id=participant_id,
            record_type=target.record_type,
            record_id=target.record_id,
            field=target.field,
            question=_text(question, "question"),
            status=QueryStatus.OPEN,
            raised_by=by,
            raised_at=now,
        )

    def answered(self, answer: str, by: uuid.UUID, now: datetime) -> DataQuery:
        if self.status is QueryStatus.CLOSED:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "The query is closed.")
        return dataclasses.replace(
            self,
            answer=_text(answer, "answer"),
            answered_by=by,
            answered_at=now,
            status=QueryStatus.ANSWERED,
            version=self.version + 1,
        )

    def closed(self, by: uuid.UUID, now: datetime) -> DataQuery:
        if self.status is QueryStatus.CLOSED:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "The query is closed already.")
        return dataclasses.replace(
            self, status=QueryStatus.CLOSED, closed_by=by, closed_at=now, version=self.version + 1
        )

    def reopened(self) -> DataQuery:
        """Open again for the site to answer; the earlier answer and closing stay in the trail."""
        if self.status is not QueryStatus.CLOSED:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "Only a closed query can be reopened.")
        return dataclasses.replace(
            self,
            status=QueryStatus.OPEN,
            closed_by=None,
            closed_at=None,
            version=self.version + 1,
        )


def _text(value: str, field: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > 4000 or "\x00" in cleaned:
        raise Invalid(field, "Write 1-4000 characters.")
    return cleaned
