"""Export jobs: a study's data in a standard format, as of one event-log position, signed.

A job is requested (audited) and queued for the worker; the worker runs it while the server
keeps writing, and it ends done (with its files, their digests and the log position it
reflects; audited), failed after its last attempt (audited) or cancelled (audited). A failed
attempt with tries left goes back to the queue with its error and when it is tried again; a
job whose worker stopped (or died) goes back to the queue too. Files are deleted once they
are older than the retention period (audited).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from domain.errors import DomainError, ErrorCode
from domain.ids import StudyId, new_id
from domain.outbox import RetryPolicy, Work

# A running job writes a heartbeat with its progress; after this long without one its worker
# has stopped, and the job waits for a worker to pick it up again.
HEARTBEAT_TIMEOUT = timedelta(minutes=2)

RUN_EXPORT = "exports.run"  # the worker's task that writes one export's files
EXPIRE_EXPORTS = "exports.expire"  # the periodic task that deletes files past retention
RETRIES = RetryPolicy(attempts=3, first_delay=timedelta(seconds=30))


class ExportFormat(StrEnum):
    ODM = "ODM"  # CDISC ODM 1.3.2 XML, archival: metadata, clinical data, audit records
    FHIR = "FHIR"  # HL7 FHIR R4 NDJSON, one resource type per file
    SDTM = "SDTM"  # SDTM (SDTMIG 3.4) CSV datasets with define.xml and a data dictionary
    DATASET_JSON = "DATASET_JSON"  # the same SDTM datasets as CDISC Dataset-JSON 1.1


class ExportStatus(StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    QUEUED = "QUEUED"  # waiting for a worker: not started yet, or to be tried again
    CANCELLED = "CANCELLED"


_UNFINISHED = frozenset({ExportStatus.QUEUED, ExportStatus.RUNNING})


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
    attempts: int = 0  # attempts started; one given back when a stopping worker releases it
    started_at: datetime | None = None  # when the current (or last) attempt started
    retry_at: datetime | None = None  # queued again after a failure: not before this time
    files_removed_at: datetime | None = None  # deleted after the retention period

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
            status=ExportStatus.QUEUED,
            requested_by=requested_by,
            requested_at=now,
            heartbeat_at=now,
        )

    @property
    def work(self) -> Work:
        """The worker's job for this export, queued in the transaction that requests it."""
        return Work(task=RUN_EXPORT, args={"export_id": str(self.id)}, key=self.work_key)

    @property
    def work_key(self) -> str:
        return f"export:{self.id}"

    @property
    def unfinished(self) -> bool:
        return self.status in _UNFINISHED

    def started(self, now: datetime) -> ExportJob:
        """An attempt starts: queued, or running when the last attempt's worker died."""
        self._require_unfinished()
        return self._next(
            status=ExportStatus.RUNNING,
            attempts=self.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            retry_at=None,
            rows_done=0,
        )

    def done(self, result: ExportResult, now: datetime) -> ExportJob:
        self._require(ExportStatus.RUNNING)
        return self._next(
            status=ExportStatus.DONE,
            finished_at=now,
            heartbeat_at=now,
            rows_done=max(self.rows_done, self.rows_total),
            log_position=result.log_position,
            chain_head=result.chain_head,
            files=result.files,
            manifest_sha256=result.manifest_sha256,
            error=None,
        )

    def failed(self, error: str, now: datetime) -> ExportJob:
        self._require_unfinished()
        return self._next(
            status=ExportStatus.FAILED, finished_at=now, heartbeat_at=now, error=error
        )

    def retrying(self, error: str, at: datetime) -> ExportJob:
        """This attempt failed; the job waits in the queue until `at`, showing the error."""
        self._require(ExportStatus.RUNNING)
        return self._next(status=ExportStatus.QUEUED, error=error, retry_at=at)

    def released(self) -> ExportJob:
        """The worker stopped before the attempt finished: queued again, the attempt given back."""
        self._require(ExportStatus.RUNNING)
        return self._next(status=ExportStatus.QUEUED, attempts=max(self.attempts - 1, 0))

    def cancelled(self, now: datetime) -> ExportJob:
        self._require_unfinished()
        return self._next(status=ExportStatus.CANCELLED, finished_at=now, retry_at=None)

    def files_removed(self, now: datetime) -> ExportJob:
        self._require(ExportStatus.DONE)
        return self._next(files_removed_at=now)

    def status_at(self, now: datetime) -> ExportStatus:
        """RUNNING only while the worker keeps its heartbeat; a silent job waits in the queue
        for a worker to pick it up again (procrastinate retries the jobs of dead workers)."""
        if self.status is ExportStatus.RUNNING and now - self.heartbeat_at > HEARTBEAT_TIMEOUT:
            return ExportStatus.QUEUED
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

    def _next(self, **changes: Any) -> ExportJob:
        return dataclasses.replace(self, version=self.version + 1, **changes)

    def _require_unfinished(self) -> None:
        if not self.unfinished:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "The export has already ended.")

    def _require(self, status: ExportStatus) -> None:
        if self.status is not status:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, f"The export is {self.status.value.lower()}."
            )


# The manifest and its signature travel with the data files and can be downloaded too.
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
