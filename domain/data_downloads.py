"""The participant's own data, to take home: requested from their app (or by their site for
them), built by the worker as a FHIR Bundle and a readable page, fetched once by a link.

The link carries a random token; only its SHA-256 digest is stored, so the database alone
cannot fetch anything. A link works once, and only until it expires.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from domain.consent import Consent
from domain.devices import StoredReading
from domain.diaries import DiaryEntry
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId
from domain.participants import Participant
from domain.questionnaires.definition import PublishedQuestionnaire
from domain.studies import Site, Study
from domain.visits import Visit

BUILD = "my_data.build"  # the worker's task: build one download's files
LINK_LIFETIME = timedelta(hours=24)


class DownloadStatus(StrEnum):
    PENDING = "PENDING"  # queued for the worker
    READY = "READY"  # built: the link works (once, until it expires)
    USED = "USED"  # fetched: the link is spent


def new_token() -> tuple[str, bytes]:
    """A link token and the digest that is stored instead of it."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class DataDownload:
    ENTITY: ClassVar[str] = "DataDownload"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    participant_id: ParticipantId
    study_id: StudyId
    site_id: SiteId
    requested_by: uuid.UUID | None
    requested_at: datetime
    expires_at: datetime
    status: DownloadStatus = DownloadStatus.PENDING
    ready_at: datetime | None = None
    used_at: datetime | None = None
    version: int = 1

    @classmethod
    def request(
        cls, participant: Participant, requested_by: uuid.UUID | None, now: datetime
    ) -> DataDownload:
        return cls(
            id=uuid.uuid4(),
            participant_id=participant.id,
            study_id=participant.study_id,
            site_id=participant.site_id,
            requested_by=requested_by,
            requested_at=now,
            expires_at=now + LINK_LIFETIME,
        )

    def built(self, now: datetime) -> DataDownload:
        return dataclasses.replace(
            self, status=DownloadStatus.READY, ready_at=now, version=self.version + 1
        )

    def fetched(self, now: datetime) -> DataDownload:
        """Spend the link: refused when it is not built yet, spent already, or expired."""
        if now >= self.expires_at:
            raise DomainError(
                ErrorCode.DOWNLOAD_EXPIRED, "The link has expired; ask for a new one."
            )
        if self.status is DownloadStatus.USED:
            raise DomainError(ErrorCode.DOWNLOAD_EXPIRED, "The link was used already.")
        if self.status is DownloadStatus.PENDING:
            raise DomainError(ErrorCode.DOWNLOAD_NOT_READY, "Your data is being prepared.")
        return dataclasses.replace(
            self, status=DownloadStatus.USED, used_at=now, version=self.version + 1
        )


@dataclass(frozen=True)
class MyData:
    """Everything about one participant that the download carries."""

    participant: Participant
    study: Study
    site: Site
    language: str  # of their latest consent: questions are shown in it
    consents: Sequence[Consent]
    entries: Sequence[DiaryEntry]
    questionnaires: Mapping[tuple[str, int], PublishedQuestionnaire]
    readings: Sequence[StoredReading]
    visits: Sequence[Visit]
    generated_at: datetime
