"""The ports the domain needs from the outside world, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from domain.access import ReadFilter
from domain.actors import Grant, Role
from domain.audit import Change, JsonValue
from domain.clock import Clock
from domain.consent import Consent, ConsentVersion, Withdrawal
from domain.contacts import ContactDetails
from domain.corrections import DataChangeRequest
from domain.data_queries import DataQuery
from domain.design import Arm, VisitDefinition
from domain.devices import Assignment, DailySummary, Device, StoredReading
from domain.diaries import DiaryEntry, DiarySchedule
from domain.enrolment import AppInstallation, EnrolmentCode
from domain.exports import ExportJob, ExportResult
from domain.ids import (
    ArmId,
    ConsentVersionId,
    DataQueryId,
    DeviceId,
    ParticipantId,
    SiteId,
    StudyId,
    UserId,
    VisitDefinitionId,
    VisitId,
)
from domain.outbox import Work
from domain.pagination import Page, PageRequest
from domain.participants import Participant, ParticipantStatus
from domain.questionnaires import PublishedQuestionnaire
from domain.readings import ReadingKind
from domain.records import Located, QueryFilter, ReadingFilter, VisitFilter
from domain.schedules import ZoneChange
from domain.sessions import RefreshRecord, RevokeReason, Session
from domain.signatures import Signature
from domain.studies import OpenWork, Site, Study
from domain.trail import TrailEvent, TrailQuery
from domain.users import StaffUser
from domain.visits import Visit


class StudyRepository(Protocol):
    async def add(self, study: Study) -> None: ...
    async def by_code(self, code: str) -> Study | None: ...
    async def get(self, study_id: StudyId) -> Study | None: ...
    async def get_many(self, ids: Sequence[StudyId]) -> Sequence[Study]: ...
    async def list(self, visible: ReadFilter) -> Sequence[Study]: ...

    async def lock(self, study_id: StudyId) -> Study | None:
        """Read and lock the study against other changes to it until commit."""
        ...

    async def lock_for_closing(self, study_id: StudyId) -> Study | None:
        """Like `lock`, and also wait for every unit of work holding it (collecting data)."""
        ...

    async def hold(self, study_id: StudyId) -> Study | None:
        """Read the study and keep it from closing until commit (while collecting data)."""
        ...

    async def update(self, study: Study) -> None:
        """Store a new version; raises STALE_VERSION if someone else changed it first."""
        ...

    async def open_work(self, study_id: StudyId) -> OpenWork:
        """How many participants still take part and how many visits are still scheduled."""
        ...

    async def participant_ids(self, study_id: StudyId) -> Sequence[ParticipantId]:
        """Every participant of the study, erased ones included."""
        ...


class SiteRepository(Protocol):
    async def add(self, site: Site) -> None: ...
    async def by_code(self, study_id: StudyId, code: str) -> Site | None: ...
    async def get(self, site_id: SiteId) -> Site | None: ...
    async def get_many(self, ids: Sequence[SiteId]) -> Sequence[Site]: ...
    async def list_for_studies(
        self, study_ids: Sequence[StudyId], visible: ReadFilter
    ) -> Sequence[Site]: ...


class ParticipantRepository(Protocol):
    async def try_add(self, participant: Participant) -> bool:
        """Insert; False when the random subject id is already taken in the study."""
        ...

    async def get(self, participant_id: ParticipantId) -> Participant | None: ...

    async def lock(self, participant_id: ParticipantId) -> Participant | None:
        """Read and lock the participant until commit: erasure and edits never interleave."""
        ...

    async def get_many(self, ids: Sequence[ParticipantId]) -> Sequence[Participant]: ...
    async def update(self, participant: Participant) -> None:
        """Store a new version; raises STALE_VERSION if someone else changed it first."""
        ...

    async def zones(self, participant_id: ParticipantId) -> Sequence[ZoneChange]:
        """The participant's time zone history, oldest first."""
        ...

    async def add_zone(self, participant_id: ParticipantId, change: ZoneChange) -> None: ...

    async def page(
        self,
        *,
        site_ids: Sequence[SiteId],
        visible: ReadFilter,
        status: ParticipantStatus | None,
        request: PageRequest,
    ) -> Page[Participant]: ...


class DesignRepository(Protocol):
    async def add_arm(self, arm: Arm) -> None: ...
    async def arms(self, study_id: StudyId) -> Sequence[Arm]: ...
    async def arm(self, arm_id: ArmId) -> Arm | None: ...
    async def add_visit_definition(self, definition: VisitDefinition) -> None: ...
    async def visit_definitions(self, study_id: StudyId) -> Sequence[VisitDefinition]: ...
    async def visit_definition(
        self, definition_id: VisitDefinitionId
    ) -> VisitDefinition | None: ...


class ConsentRepository(Protocol):
    async def add_version(self, version: ConsentVersion) -> None: ...
    async def latest_version(self, study_id: StudyId) -> ConsentVersion | None: ...
    async def versions(self, study_id: StudyId) -> Sequence[ConsentVersion]: ...
    async def version(self, version_id: ConsentVersionId) -> ConsentVersion | None: ...
    async def add_consent(self, consent: Consent, study_id: StudyId) -> None: ...
    async def consent(self, consent_id: uuid.UUID) -> Consent | None: ...

    async def latest_consent(self, participant_id: ParticipantId) -> Consent | None:
        """The participant's most recent consent, if any."""
        ...

    async def consents_of(self, participant_id: ParticipantId) -> Sequence[Consent]:
        """Every consent the participant signed, oldest first."""
        ...

    async def signed_languages(self, study_id: StudyId) -> Sequence[str]:
        """The languages of the latest consents of the study's active participants."""
        ...

    async def add_withdrawal(self, withdrawal: Withdrawal, study_id: StudyId) -> None: ...
    async def withdrawal(self, participant_id: ParticipantId) -> Withdrawal | None: ...


class SignatureRepository(Protocol):
    async def add(self, signature: Signature) -> None: ...
    async def for_records(self, record_ids: Sequence[uuid.UUID]) -> Sequence[Signature]: ...


class VisitRepository(Protocol):
    async def add(self, visit: Visit) -> None: ...
    async def get(self, visit_id: VisitId) -> Visit | None: ...
    async def update(self, visit: Visit) -> None: ...

    async def page(
        self, filters: VisitFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[Visit]:
        """Visits by start time, filtered and limited to what the reader may see."""
        ...


class DataQueryRepository(Protocol):
    async def add(self, query: DataQuery) -> None: ...
    async def get(self, query_id: DataQueryId) -> DataQuery | None: ...
    async def update(self, query: DataQuery) -> None: ...

    async def page(
        self, filters: QueryFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[DataQuery]: ...


class QuestionnaireRepository(Protocol):
    async def add(self, published: PublishedQuestionnaire) -> None: ...

    async def all(self, study_id: StudyId) -> Sequence[PublishedQuestionnaire]:
        """Every version of every questionnaire of the study, oldest first."""
        ...


class DiaryRepository(Protocol):
    async def add_schedule(self, schedule: DiarySchedule) -> None: ...
    async def schedules(self, study_id: StudyId) -> Sequence[DiarySchedule]: ...
    async def get(self, entry_id: uuid.UUID) -> DiaryEntry | None: ...
    async def get_many(self, entry_ids: Sequence[uuid.UUID]) -> Sequence[DiaryEntry]: ...

    async def fingerprint(self, participant_id: ParticipantId, digest: str) -> str:
        """The submission digest keyed with the participant's data key: a stored fingerprint
        cannot be used to guess free text, and erasure makes it meaningless."""
        ...

    async def try_add(self, entry: DiaryEntry) -> bool:
        """Insert unless the id exists, or an accepted entry answers the occurrence already."""
        ...

    async def update(self, entry: DiaryEntry) -> None: ...

    async def answered(self, participant_ids: Sequence[ParticipantId]) -> Sequence[DiaryEntry]:
        """The accepted entries of these participants."""
        ...

    async def page(
        self, participant_id: ParticipantId, request: PageRequest
    ) -> Page[DiaryEntry]: ...
    async def add_change_request(self, request: DataChangeRequest) -> None: ...

    async def change_requests(self, record_id: uuid.UUID) -> Sequence[DataChangeRequest]:
        """The record's data change requests, oldest first."""
        ...


class ExportRepository(Protocol):
    async def add(self, job: ExportJob) -> None: ...
    async def get(self, job_id: uuid.UUID) -> ExportJob | None: ...

    async def lock(self, job_id: uuid.UUID) -> ExportJob | None:
        """Read and lock the job until commit: the worker and a cancel never interleave."""
        ...

    async def update(self, job: ExportJob) -> None: ...

    async def beat(self, job_id: uuid.UUID, rows_done: int, rows_total: int, now: datetime) -> None:
        """Progress and heartbeat of a running job: operational, so not an audit event."""
        ...

    async def of_study(self, study_id: StudyId, limit: int) -> Sequence[ExportJob]:
        """The study's latest jobs, newest first."""
        ...

    async def unfinished(self, study_id: StudyId) -> int:
        """How many of the study's jobs are queued or running."""
        ...

    async def expired(self, finished_before: datetime, limit: int) -> Sequence[ExportJob]:
        """Done jobs that finished before then and still have their files, oldest first."""
        ...


class ExportProgress(Protocol):
    async def __call__(self, rows_done: int, rows_total: int) -> None: ...


class ExportEngine(Protocol):
    """Writes the study as of one event-log position into `directory`, with a signed manifest."""

    async def run(
        self, job: ExportJob, directory: str, progress: ExportProgress
    ) -> ExportResult: ...

    async def discard(self, directory: str) -> None:
        """Remove an export's directory and everything in it (none there: nothing to do)."""
        ...


class DeviceRepository(Protocol):
    async def add(self, device: Device) -> None: ...
    async def get(self, device_id: DeviceId) -> Device | None: ...
    async def get_many(self, device_ids: Sequence[DeviceId]) -> Sequence[Device]: ...
    async def update(self, device: Device) -> None: ...
    async def assigned_to(self, participant_id: ParticipantId) -> Sequence[Device]: ...

    async def periods(self, device_ids: Sequence[DeviceId]) -> Sequence[Assignment]:
        """Every period in which these devices were held, by anyone."""
        ...

    async def assignments_of(self, participant_id: ParticipantId) -> Sequence[Assignment]:
        """Every period in which the participant held a device, current ones included."""
        ...

    async def open_assignment(
        self, device_id: DeviceId, participant_id: ParticipantId, at: datetime
    ) -> None: ...
    async def close_assignment(self, device_id: DeviceId, at: datetime) -> None: ...
    async def at_site(self, site_id: SiteId) -> Sequence[Device]: ...


class ReadingRepository(Protocol):
    async def add_batch(
        self, readings: Sequence[StoredReading], *, store: bool = True
    ) -> tuple[set[uuid.UUID], dict[uuid.UUID, StoredReading]]:
        """Insert the readings that are new, in key order, with one bulk statement.

        Returns the ids inserted, and for each reading not inserted the stored reading with
        the same identity (device, kind, effective start, source id). With `store=False`
        nothing is inserted: only the stored counterparts are looked up.
        """
        ...

    async def get(self, reading_id: uuid.UUID) -> StoredReading | None: ...

    async def update(self, reading: StoredReading) -> None:
        """Store a logical delete or a review; STALE_VERSION if it moved on."""
        ...

    async def page(
        self, participant_id: ParticipantId, filters: ReadingFilter, request: PageRequest
    ) -> Page[StoredReading]:
        """Accepted and quarantined readings by effective time (rejected and deleted ones with
        `include_deleted`)."""
        ...

    async def quarantined(
        self, site_id: SiteId, participant_id: ParticipantId | None, request: PageRequest
    ) -> Page[StoredReading]:
        """The site's readings waiting for review, by effective time."""
        ...

    async def daily(
        self,
        participant_id: ParticipantId,
        kind: ReadingKind,
        zones: Sequence[ZoneChange],
        first: date,
        last: date,
    ) -> Sequence[DailySummary]:
        """Accepted readings per local day, each in the zone the participant was in then."""
        ...


class RecordLocator(Protocol):
    async def locate(self, record_type: str, record_id: uuid.UUID) -> Located | None:
        """Where a record sits (study, site, participant) and the record itself."""
        ...


class UserRepository(Protocol):
    async def add(self, user: StaffUser, password_hash: str) -> None: ...
    async def get(self, user_id: UserId) -> StaffUser | None: ...

    async def find_credentials(self, email: str) -> tuple[StaffUser, str] | None:
        """The user with this (normalised) e-mail and their password hash."""
        ...

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None: ...

    async def any_with_role(self, role: Role) -> bool: ...

    async def record_failure(
        self, user_id: UserId, now: datetime, *, threshold: int, lock_for: timedelta
    ) -> datetime | None:
        """Count a failed sign-in atomically; the lock's end if this failure locked the account."""
        ...

    async def clear_failures(self, user_id: UserId) -> None: ...

    async def update(self, user: StaffUser) -> None:
        """Store status and grants of a new version; STALE_VERSION if it moved on."""
        ...

    async def page(self, request: PageRequest) -> Page[StaffUser]: ...

    async def active_grants(self, user_id: UserId) -> tuple[Grant, ...] | None:
        """Grants of an active user, or None if the user is missing or disabled."""
        ...


class ContactRepository(Protocol):
    async def get(self, participant_id: ParticipantId) -> ContactDetails | None:
        """The stored details, or None if there are none (or they were erased)."""
        ...

    async def save(self, contact: ContactDetails, study_id: StudyId) -> None:
        """Insert version 1 or replace the previous version; STALE_VERSION if it moved on."""
        ...

    async def find(
        self, study_id: StudyId, *, email: str | None, phone: str | None
    ) -> Sequence[ParticipantId]:
        """Participants of a study with this e-mail or phone, by blind index."""
        ...

    async def erase(self, participant_id: ParticipantId) -> None:
        """Forget every sealed value and blind index of the participant's details."""
        ...


class AuditTrail(Protocol):
    async def page(
        self, query: TrailQuery, visible: ReadFilter, request: PageRequest
    ) -> Page[TrailEvent]:
        """Events matching the query and the reader's visibility; personal values withheld."""
        ...

    async def reveal(
        self, events: Sequence[TrailEvent], allowed: Callable[[TrailEvent, uuid.UUID], bool]
    ) -> Sequence[TrailEvent]:
        """Open the personal values of events whose (event, data owner) `allowed` accepts."""
        ...

    async def redact(
        self, entity_type: str, entity_id: uuid.UUID, field: str, value: JsonValue
    ) -> Sequence[str]:
        """Clear logged copies of `value` in `field` of the entity; their references."""
        ...


class DataKeys(Protocol):
    def rotate_kek(self) -> tuple[str, str]:
        """Make a new key-encryption key current; returns (old id, new id)."""
        ...

    async def rewrap_all(self) -> int:
        """Re-wrap every live data key under the current key-encryption key."""
        ...

    async def destroy(self, owner_id: uuid.UUID) -> bool:
        """Crypto-shred a data subject's key; False if there was none left."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...
    async def add_refresh(
        self,
        session_id: uuid.UUID,
        digest: bytes,
        expires_at: datetime,
        *,
        token_id: uuid.UUID,
        issued_at: datetime,
    ) -> None: ...
    async def find_refresh(self, digest: bytes) -> RefreshRecord | None: ...

    async def use_refresh(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Mark a refresh token used; False if it already was (atomic: one caller wins)."""
        ...

    async def revoke(self, session_id: uuid.UUID, reason: RevokeReason, now: datetime) -> None: ...

    async def revoke_subject(
        self, subject_id: uuid.UUID, reason: RevokeReason, now: datetime
    ) -> int:
        """End every live session of a staff user or participant; returns how many."""
        ...

    async def active(self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime) -> bool: ...


class EnrolmentRepository(Protocol):
    async def add_code(self, code: EnrolmentCode, digest: bytes) -> None: ...

    async def void_codes(self, participant_id: ParticipantId, now: datetime) -> None:
        """Unused codes of the participant stop working (a new one was issued)."""
        ...

    async def find_code(self, digest: bytes) -> EnrolmentCode | None: ...

    async def use_code(self, code_id: uuid.UUID, now: datetime) -> bool:
        """Mark a code used; False if it already was (atomic: one caller wins)."""
        ...

    async def add_installation(self, installation: AppInstallation) -> None: ...

    async def unpair_all(self, participant_id: ParticipantId, now: datetime) -> int:
        """Unpair every installation of the participant; returns how many."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; the only way use cases reach storage."""

    @property
    def clock(self) -> Clock: ...
    @property
    def studies(self) -> StudyRepository: ...
    @property
    def sites(self) -> SiteRepository: ...
    @property
    def participants(self) -> ParticipantRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def contacts(self) -> ContactRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def enrolment(self) -> EnrolmentRepository: ...
    @property
    def trail(self) -> AuditTrail: ...
    @property
    def design(self) -> DesignRepository: ...
    @property
    def consents(self) -> ConsentRepository: ...
    @property
    def signatures(self) -> SignatureRepository: ...
    @property
    def visits(self) -> VisitRepository: ...
    @property
    def queries(self) -> DataQueryRepository: ...
    @property
    def records(self) -> RecordLocator: ...
    @property
    def questionnaires(self) -> QuestionnaireRepository: ...
    @property
    def diaries(self) -> DiaryRepository: ...
    @property
    def devices(self) -> DeviceRepository: ...
    @property
    def readings(self) -> ReadingRepository: ...
    @property
    def exports(self) -> ExportRepository: ...
    @property
    def keys(self) -> DataKeys: ...

    def record(self, change: Change) -> None:
        """Queue an audit event; it is appended to the log in the same transaction at commit."""
        ...

    def enqueue(self, work: Work) -> None:
        """Queue work for the worker; handed over in the same transaction at commit."""
        ...

    async def cancel_work(self, key: str) -> None:
        """Cancel waiting work with this key and ask running work to stop (in this
        transaction: nothing happens unless it commits)."""
        ...

    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
