"""What an export sees: one study at one event-log position, pseudonymised, streamed by subject.

A snapshot reader (`infra/exports/snapshot.py`) produces these objects inside one REPEATABLE
READ transaction; the format writers (the packages `odm/`, `fhir/`, `sdtm/`, `datasetjson/`)
consume them and never touch the database. Nothing here carries a direct identifier: no
names, contact details, dates of birth (only the age derived from one), screening numbers,
free-text answers, visit notes or reasons (free text, even a legal basis). Staff names appear
only where Part 11 needs them (who signed, who changed what).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from domain.adverse_events import AdverseEvent
from domain.consent import ConsentVersion
from domain.design import Arm, VisitDefinition
from domain.deviations import ProtocolDeviation
from domain.devices import StoredReading
from domain.diaries import DiaryEntry
from domain.medications import ConcomitantMedication
from domain.participants import ParticipantStatus
from domain.questionnaires import PublishedQuestionnaire
from domain.schedules import ZoneChange, zone_at
from domain.studies import Site, Study
from domain.visits import Visit
from infra.exports.readings import Batches, ReadingRow, batches_of


@dataclass(frozen=True)
class Meta:
    """The study's metadata and the snapshot's identity."""

    export_id: uuid.UUID
    study: Study
    sites: tuple[Site, ...]
    arms: tuple[Arm, ...]
    visit_definitions: tuple[VisitDefinition, ...]  # ordered by day, then code
    questionnaires: tuple[PublishedQuestionnaire, ...]  # every version, by code then version
    consent_versions: tuple[ConsentVersion, ...]  # by number
    staff: Mapping[uuid.UUID, str]  # staff user id -> printed name (signatures, audit users)
    position: int  # the last event-log position included (0: empty log)
    chain_head: str  # hex SHA-256 of that event ("" for an empty log)
    created_at: datetime  # aware, UTC
    log: str = ""  # the study log's name (its checkpoints' origin line)


@dataclass(frozen=True)
class Change:
    """One field of an audit event, with values only when they are not personal."""

    field: str
    old: object  # JSON value; None when absent or withheld
    new: object
    personal: bool = False  # True: the values were personal data and are left out


@dataclass(frozen=True)
class Event:
    """An event-log entry about the subject or one of their records."""

    position: int
    id: uuid.UUID  # the event id: ODM AuditRecord/SourceID, FHIR Provenance identifier
    recorded_at: datetime  # server time, aware UTC
    actor_kind: str  # STAFF, PARTICIPANT or SYSTEM
    actor_id: uuid.UUID | None
    actor_role: str  # the role that allowed the change, e.g. COORDINATOR
    site_id: uuid.UUID | None
    entity_type: str  # Participant, Visit, DiaryEntry, ReadingBatch, Consent, Signature, ...
    entity_id: uuid.UUID
    action: str  # created, updated, submitted, corrected, received, signed, ...
    changes: tuple[Change, ...]
    reason: str | None  # the snapshot never fills it: reasons are free text (writers support it)
    device_time: datetime | None = None  # the device's clock, when the change came from one
    reason_code: str | None = None  # the coded reason for change: never personal, exported


@dataclass(frozen=True)
class SignedConsent:
    id: uuid.UUID
    consent_version_id: uuid.UUID
    number: int  # the consent version's number
    language: str
    signed_at: datetime


@dataclass(frozen=True)
class RecordSignature:
    """A Part 11 signature. `signer` is the staff member's printed name, or None when the
    participant signed (their name is a direct identifier and stays out)."""

    id: uuid.UUID
    signer_id: uuid.UUID
    signer: str | None
    meaning: str  # domain.signatures.Meaning value
    signed_at: datetime
    record_type: str  # Visit, DiaryEntry, Participant, Consent
    record_id: uuid.UUID
    record_version: int
    valid: bool  # False once the record changed after signing
    current_version: int | None = None  # the record's version now (None: not known)


@dataclass(frozen=True)
class SubjectInfo:
    id: uuid.UUID  # internal participant id (never printed; OIDs use subject_id)
    subject_id: str  # the random, pseudonymous study subject id, e.g. "K7Q2-9XHD"
    site_id: uuid.UUID
    status: ParticipantStatus
    timezone: str  # current IANA zone
    arm_id: uuid.UUID | None
    enrolled_on: date | None
    registered_at: datetime
    status_changed_at: datetime
    erased: bool  # personal data crypto-shredded (pseudonymous data still exported)
    zones: tuple[ZoneChange, ...] = ()  # the zone history, oldest first (empty: `timezone`)
    # Whole years at the reference start (enrolment), from the sealed date of birth, which
    # only the snapshot opens and nothing exports. None: no birth date, no enrolment, erased.
    age: int | None = None

    def zone_at(self, moment: datetime) -> str:
        """The participant's IANA zone at `moment`, from the history."""
        return zone_at(self.zones, moment) if self.zones else self.timezone


@dataclass(frozen=True)
class Subject:
    """Everything exported about one participant. `readings` streams, the rest is small."""

    info: SubjectInfo
    consents: tuple[SignedConsent, ...]  # by signing time
    visits: tuple[Visit, ...]  # by start; `notes` is always None here
    entries: tuple[DiaryEntry, ...]  # by due time; `free_text` is always empty here
    signatures: tuple[RecordSignature, ...]
    events: tuple[Event, ...]  # every event about the subject, by position
    reading_count: int
    readings: Callable[[], AsyncIterator[StoredReading]]  # by effective time, deleted ones too
    rows: Batches | None = None  # the same readings as text rows, when the snapshot has them
    # By report time; `description` (the participant's own words) is always None here.
    adverse_events: tuple[AdverseEvent, ...] = ()
    medications: tuple[ConcomitantMedication, ...] = ()  # by report time
    deviations: tuple[ProtocolDeviation, ...] = ()  # by detection time

    def reading_batches(self) -> AsyncIterator[Sequence[ReadingRow]]:
        """The readings, in order, as batches of rows: the writers' hot path."""
        return self.rows() if self.rows is not None else batches_of(self.readings)


class Snapshot(Protocol):
    @property
    def meta(self) -> Meta: ...

    def subjects(self) -> AsyncIterator[Subject]:
        """The study's participants ordered by subject id."""
        ...


Progress = Callable[[int], None]  # called with the number of rows just written


@dataclass
class WrittenFile:
    name: str  # relative to the export directory
    rows: int
    bytes: int
    sha256: str  # hex


class Writer(Protocol):
    """A format: writes its files into `directory` (which exists and is empty)."""

    async def __call__(
        self, snapshot: Snapshot, directory: Path, progress: Progress
    ) -> list[WrittenFile]: ...
