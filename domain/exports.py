"""Export jobs: a study's data in a standard format, as of one event-log position, signed.

A job is requested (audited), runs while the server keeps writing, and ends done (with its
files, their digests and the log position it reflects; audited) or failed. A job whose
worker stopped answering is shown as failed: it can never finish any more.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from domain.errors import DomainError, ErrorCode
from domain.ids import StudyId, new_id

# A running job writes a heartbeat with its progress; after this long without one it is dead.
HEARTBEAT_TIMEOUT = timedelta(minutes=2)


class ExportFormat(StrEnum):
    ODM = "ODM"  # CDISC ODM 1.3.2 XML, archival: metadata, clinical data, audit records
    FHIR = "FHIR"  # HL7 FHIR R4 NDJSON, one resource type per file
    SDTM = "SDTM"  # SDTM (SDTMIG 3.4) CSV datasets with define.xml and a data dictionary
    DATASET_JSON = "DATASET_JSON"  # the same SDTM datasets as CDISC Dataset-JSON 1.1


class ExportStatus(StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


@dataclass(frozen=True)
class ExportFile:
    name: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class ExportResult:
    """What a finished export wrote and which state of the study it reflects."""

    log_position: int
    chain_head: str
    files: tuple[ExportFile, ...]
    manifest_sha256: str


@dataclass(frozen=True)
class ExportJob:
    ENTITY: ClassVar[str] = "ExportJob"
    PERSONAL: ClassVar[frozenset[str]] = frozenset()
    REASON_REQUIRED: ClassVar[bool] = False

    id: uuid.UUID
    study_id: StudyId
    format: ExportFormat
    status: ExportStatus
    requested_by: uuid.UUID | None  # None: an operator on the command line
    requested_at: datetime
    heartbeat_at: datetime
    rows_done: int = 0
    rows_total: int = 0
    finished_at: datetime | None = None
    log_position: int | None = None
    chain_head: str | None = None
    files: tuple[ExportFile, ...] = ()
    manifest_sha256: str | None = None
    error: str | None = None  # a short, safe description for the requester
    version: int = 1

    @classmethod
    def request(
        cls,
        *,
        study_id: StudyId,
        format: ExportFormat,
        requested_by: uuid.UUID | None,
        now: datetime,
    ) -> ExportJob:
        return cls(
            id=new_id(),
            study_id=study_id,
            format=format,
            status=ExportStatus.RUNNING,
            requested_by=requested_by,
            requested_at=now,
            heartbeat_at=now,
        )

    def done(self, result: ExportResult, now: datetime) -> ExportJob:
        self._require_running()
        return dataclasses.replace(
            self,
            status=ExportStatus.DONE,
            finished_at=now,
            heartbeat_at=now,
            rows_done=max(self.rows_done, self.rows_total),
            log_position=result.log_position,
            chain_head=result.chain_head,
            files=result.files,
            manifest_sha256=result.manifest_sha256,
            version=self.version + 1,
        )

    def failed(self, error: str, now: datetime) -> ExportJob:
        self._require_running()
        return dataclasses.replace(
            self,
            status=ExportStatus.FAILED,
            finished_at=now,
            heartbeat_at=now,
            error=error,
            version=self.version + 1,
        )

    def status_at(self, now: datetime) -> ExportStatus:
        """RUNNING only while the worker keeps its heartbeat; a silent job has failed."""
        if self.status is ExportStatus.RUNNING and now - self.heartbeat_at > HEARTBEAT_TIMEOUT:
            return ExportStatus.FAILED
        return self.status

    def progress(self) -> float:
        """0 to 1; a running job stays below 1 until it has signed its manifest."""
        if self.status is ExportStatus.DONE:
            return 1.0
        if self.rows_total <= 0:
            return 0.0
        return min(self.rows_done / self.rows_total, 0.99)

    def file(self, name: str) -> ExportFile | None:
        return next((f for f in self.files if f.name == name), None)

    def _require_running(self) -> None:
        if self.status is not ExportStatus.RUNNING:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "The export has already ended.")


# The manifest and its signature travel with the data files and can be downloaded too.
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
