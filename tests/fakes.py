"""Hand-written in-memory fakes of the domain's ports, for fast unit tests of the rules."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from domain.access import ReadFilter
from domain.actors import ActorKind, Grant, Role
from domain.audit import Change, JsonValue
from domain.auth import IssuedToken, TokenClaims
from domain.consent import Consent, ConsentVersion, Withdrawal
from domain.contacts import ContactDetails
from domain.corrections import DataChangeRequest
from domain.data_queries import DataQuery
from domain.design import Arm, VisitDefinition
from domain.devices import Assignment, DailySummary, Device, ReadingStatus, StoredReading
from domain.diaries import DiaryEntry, DiarySchedule, EntryStatus
from domain.enrolment import AppInstallation, EnrolmentCode
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.exports import ExportJob, ExportStatus
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
from domain.visits import Visit, VisitStatus
from tests.clock import PinnedClock
from tests.paging import keyset_window


class FakeClock(PinnedClock):
    """Unit tests' clock: a pinned clock that starts on the night Berlin moves to summer time."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start or datetime(2026, 3, 29, 0, 30, tzinfo=UTC))


def _visible(visible: ReadFilter, study: object, site: object = None, who: object = None) -> bool:
    return (
        visible.everything
        or study in visible.study_ids
        or site in visible.site_ids
        or who in visible.participant_ids
    )


class FakeStudies:
    def __init__(self, uow: FakeUnitOfWork | None = None) -> None:
        self.rows: dict[StudyId, Study] = {}
        self._uow = uow

    async def add(self, study: Study) -> None:
        if any(s.code == study.code for s in self.rows.values()):
            raise AlreadyExists("A study with this code", field="code")
        self.rows[study.id] = study

    async def by_code(self, code: str) -> Study | None:
        return next((s for s in self.rows.values() if s.code == code), None)

    async def get(self, study_id: StudyId) -> Study | None:
        return self.rows.get(study_id)

    async def get_many(self, ids: Sequence[StudyId]) -> Sequence[Study]:
        return [self.rows[i] for i in ids if i in self.rows]

    async def list(self, visible: ReadFilter) -> Sequence[Study]:
        return sorted(
            (s for s in self.rows.values() if _visible(visible, s.id)), key=lambda s: s.code
        )

    async def lock(self, study_id: StudyId) -> Study | None:
        return self.rows.get(study_id)

    async def lock_for_closing(self, study_id: StudyId) -> Study | None:
        return self.rows.get(study_id)

    async def hold(self, study_id: StudyId) -> Study | None:
        return self.rows.get(study_id)

    async def update(self, study: Study) -> None:
        if self.rows[study.id].version != study.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[study.id] = study

    async def open_work(self, study_id: StudyId) -> OpenWork:
        assert self._uow is not None, "open_work needs the unit of work's other stores"
        people = self._uow.participants.rows.values()
        visits = self._uow.visits.rows.values()
        return OpenWork(
            active_participants=sum(p.study_id == study_id and p.is_active for p in people),
            scheduled_visits=sum(
                v.study_id == study_id and v.status is VisitStatus.SCHEDULED for v in visits
            ),
        )

    async def participant_ids(self, study_id: StudyId) -> Sequence[ParticipantId]:
        assert self._uow is not None, "participant_ids needs the unit of work's participants"
        found = self._uow.participants.rows.values()
        return sorted((p.id for p in found if p.study_id == study_id), key=str)


class FakeSites:
    def __init__(self) -> None:
        self.rows: dict[SiteId, Site] = {}

    async def add(self, site: Site) -> None:
        if any((s.study_id, s.code) == (site.study_id, site.code) for s in self.rows.values()):
            raise AlreadyExists("A site with this code in the study", field="code")
        self.rows[site.id] = site

    async def by_code(self, study_id: StudyId, code: str) -> Site | None:
        return next(
            (s for s in self.rows.values() if (s.study_id, s.code) == (study_id, code)), None
        )

    async def get(self, site_id: SiteId) -> Site | None:
        return self.rows.get(site_id)

    async def get_many(self, ids: Sequence[SiteId]) -> Sequence[Site]:
        return [self.rows[i] for i in ids if i in self.rows]

    async def list_for_studies(
        self, study_ids: Sequence[StudyId], visible: ReadFilter
    ) -> Sequence[Site]:
        return [
            s
            for s in self.rows.values()
            if s.study_id in study_ids and _visible(visible, s.study_id, s.id)
        ]


class FakeParticipants:
    def __init__(self) -> None:
        self.rows: dict[ParticipantId, Participant] = {}
        self.taken_subject_ids: set[str] = set()
        self.zone_history: dict[ParticipantId, list[ZoneChange]] = {}

    async def try_add(self, participant: Participant) -> bool:
        if participant.subject_id in self.taken_subject_ids:
            return False
        if any(
            (p.study_id, p.screening_number) == (participant.study_id, participant.screening_number)
            for p in self.rows.values()
        ):
            raise AlreadyExists("A participant with this screening number")
        self.taken_subject_ids.add(participant.subject_id)
        self.rows[participant.id] = participant
        self.zone_history[participant.id] = [
            ZoneChange(participant.registered_at, participant.timezone)
        ]
        return True

    async def get(self, participant_id: ParticipantId) -> Participant | None:
        return self.rows.get(participant_id)

    async def lock(self, participant_id: ParticipantId) -> Participant | None:
        return self.rows.get(participant_id)

    async def zones(self, participant_id: ParticipantId) -> Sequence[ZoneChange]:
        return self.zone_history.get(participant_id, [])

    async def add_zone(self, participant_id: ParticipantId, change: ZoneChange) -> None:
        self.zone_history.setdefault(participant_id, []).append(change)

    async def get_many(self, ids: Sequence[ParticipantId]) -> Sequence[Participant]:
        return [self.rows[i] for i in ids if i in self.rows]

    async def update(self, participant: Participant) -> None:
        current = self.rows[participant.id]
        if current.version != participant.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[participant.id] = participant

    async def page(
        self,
        *,
        site_ids: Sequence[SiteId],
        visible: ReadFilter,
        status: ParticipantStatus | None,
        request: PageRequest,
    ) -> Page[Participant]:
        rows = (
            p
            for p in self.rows.values()
            if p.site_id in site_ids
            and _visible(visible, p.study_id, p.site_id, p.id)
            and (status is None or p.status is status)
        )
        return keyset_window(rows, lambda p: (p.id,), [uuid.UUID], request)


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[UserId, tuple[StaffUser, str]] = {}

    async def add(self, user: StaffUser, password_hash: str) -> None:
        if any(u.email == user.email for u, _ in self.rows.values()):
            raise AlreadyExists("A user with this e-mail", field="email")
        self.rows[user.id] = (user, password_hash)

    async def get(self, user_id: UserId) -> StaffUser | None:
        found = self.rows.get(user_id)
        return found[0] if found else None

    async def find_credentials(self, email: str) -> tuple[StaffUser, str] | None:
        return next((r for r in self.rows.values() if r[0].email == email), None)

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None:
        user, _ = self.rows[user_id]
        self.rows[user_id] = (user, password_hash)

    async def any_with_role(self, role: Role) -> bool:
        return any(g.role is role for u, _ in self.rows.values() for g in u.grants)

    async def active_grants(self, user_id: UserId) -> tuple[Grant, ...] | None:
        user = await self.get(user_id)
        return user.grants if user and user.is_active else None

    async def record_failure(
        self, user_id: UserId, now: datetime, *, threshold: int, lock_for: timedelta
    ) -> datetime | None:
        user, hashed = self.rows[user_id]
        count = user.failed_logins + 1
        locked = now + lock_for if count >= threshold else None
        self.rows[user_id] = (
            dataclasses.replace(
                user, failed_logins=0 if locked else count, locked_until=locked or user.locked_until
            ),
            hashed,
        )
        return locked

    async def clear_failures(self, user_id: UserId) -> None:
        user, hashed = self.rows[user_id]
        self.rows[user_id] = (dataclasses.replace(user, failed_logins=0, locked_until=None), hashed)

    async def update(self, user: StaffUser) -> None:
        current, hashed = self.rows[user.id]
        if current.version != user.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[user.id] = (user, hashed)

    async def page(self, request: PageRequest) -> Page[StaffUser]:
        users = (u for u, _ in self.rows.values())
        return keyset_window(users, lambda u: (u.id,), [uuid.UUID], request)


class FakeSessions:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Session] = {}
        self.tokens: dict[bytes, RefreshRecord] = {}

    async def add(self, session: Session) -> None:
        self.rows[session.id] = session

    async def add_refresh(
        self,
        session_id: uuid.UUID,
        digest: bytes,
        expires_at: datetime,
        *,
        token_id: uuid.UUID,
        issued_at: datetime,
    ) -> None:
        self.tokens[digest] = RefreshRecord(
            token_id, self.rows[session_id], expires_at, None, issued_at
        )

    async def find_refresh(self, digest: bytes) -> RefreshRecord | None:
        found = self.tokens.get(digest)
        if found is None:
            return None
        return dataclasses.replace(found, session=self.rows[found.session.id])

    async def use_refresh(self, token_id: uuid.UUID, now: datetime) -> bool:
        for digest, record in self.tokens.items():
            if record.token_id == token_id:
                if record.used_at is not None:
                    return False
                self.tokens[digest] = dataclasses.replace(record, used_at=now)
                return True
        return False

    async def revoke(self, session_id: uuid.UUID, reason: RevokeReason, now: datetime) -> None:
        session = self.rows[session_id]
        if session.revoked_at is None:
            self.rows[session_id] = dataclasses.replace(session, revoked_at=now)

    async def revoke_subject(
        self, subject_id: uuid.UUID, reason: RevokeReason, now: datetime
    ) -> int:
        live = [
            s for s in self.rows.values() if s.subject_id == subject_id and s.revoked_at is None
        ]
        for session in live:
            await self.revoke(session.id, reason, now)
        return len(live)

    async def active(self, session_id: uuid.UUID, subject_id: uuid.UUID, now: datetime) -> bool:
        session = self.rows.get(session_id)
        return bool(
            session
            and session.subject_id == subject_id
            and session.revoked_at is None
            and now < session.expires_at
        )


class FakeEnrolment:
    def __init__(self) -> None:
        self.codes: dict[bytes, EnrolmentCode] = {}
        self.installations: dict[uuid.UUID, tuple[AppInstallation, datetime | None]] = {}

    async def add_code(self, code: EnrolmentCode, digest: bytes) -> None:
        self.codes[digest] = code

    async def void_codes(self, participant_id: ParticipantId, now: datetime) -> None:
        for digest, code in self.codes.items():
            if code.participant_id == participant_id and code.used_at is None:
                self.codes[digest] = dataclasses.replace(code, used_at=now)

    async def find_code(self, digest: bytes) -> EnrolmentCode | None:
        return self.codes.get(digest)

    async def use_code(self, code_id: uuid.UUID, now: datetime) -> bool:
        for digest, code in self.codes.items():
            if code.id == code_id and code.used_at is None:
                self.codes[digest] = dataclasses.replace(code, used_at=now)
                return True
        return False

    async def add_installation(self, installation: AppInstallation) -> None:
        self.installations[installation.id] = (installation, None)

    async def unpair_all(self, participant_id: ParticipantId, now: datetime) -> int:
        live = [
            i
            for i, (inst, gone) in self.installations.items()
            if inst.participant_id == participant_id and gone is None
        ]
        for key in live:
            self.installations[key] = (self.installations[key][0], now)
        return len(live)


class FakeContacts:
    def __init__(self) -> None:
        self.rows: dict[ParticipantId, ContactDetails] = {}
        self.studies: dict[ParticipantId, StudyId] = {}

    async def get(self, participant_id: ParticipantId) -> ContactDetails | None:
        return self.rows.get(participant_id)

    async def save(self, contact: ContactDetails, study_id: StudyId) -> None:
        current = self.rows.get(contact.id)
        if (current.version if current else 0) != contact.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[contact.id] = contact
        self.studies[contact.id] = study_id

    async def find(
        self, study_id: StudyId, *, email: str | None, phone: str | None
    ) -> Sequence[ParticipantId]:
        return [
            pid
            for pid, c in self.rows.items()
            if self.studies[pid] == study_id
            and ((email and c.email == email.strip().casefold()) or (phone and c.phone == phone))
        ]

    async def erase(self, participant_id: ParticipantId) -> None:
        self.rows.pop(participant_id, None)


class FakeTrail:
    """Records redactions; paging the trail is tested against PostgreSQL, not here."""

    def __init__(self) -> None:
        self.redactions: list[tuple[str, uuid.UUID, str, JsonValue]] = []

    async def page(
        self, query: TrailQuery, visible: ReadFilter, request: PageRequest
    ) -> Page[TrailEvent]:
        return Page(items=[], has_next_page=False)

    async def reveal(
        self, events: Sequence[TrailEvent], allowed: Callable[[TrailEvent, uuid.UUID], bool]
    ) -> Sequence[TrailEvent]:
        return events

    async def redact(
        self, entity_type: str, entity_id: uuid.UUID, field: str, value: JsonValue
    ) -> Sequence[str]:
        self.redactions.append((entity_type, entity_id, field, value))
        return [f"{uuid.uuid4()}/{field}/new"]


class FakeKeys:
    def __init__(self) -> None:
        self.kek = "kek-1"
        self.destroyed: set[uuid.UUID] = set()
        self.live = 0

    def rotate_kek(self) -> tuple[str, str]:
        old, self.kek = self.kek, f"kek-{int(self.kek.split('-')[1]) + 1}"
        return old, self.kek

    async def rewrap_all(self) -> int:
        return self.live

    async def destroy(self, owner_id: uuid.UUID) -> bool:
        fresh = owner_id not in self.destroyed
        self.destroyed.add(owner_id)
        return fresh


class FakeDesign:
    def __init__(self) -> None:
        self.arm_rows: dict[uuid.UUID, Arm] = {}
        self.definitions: dict[uuid.UUID, VisitDefinition] = {}

    async def add_arm(self, arm: Arm) -> None:
        self.arm_rows[arm.id] = arm

    async def arms(self, study_id: StudyId) -> Sequence[Arm]:
        return [a for a in self.arm_rows.values() if a.study_id == study_id]

    async def arm(self, arm_id: ArmId) -> Arm | None:
        return self.arm_rows.get(arm_id)

    async def add_visit_definition(self, definition: VisitDefinition) -> None:
        self.definitions[definition.id] = definition

    async def visit_definitions(self, study_id: StudyId) -> Sequence[VisitDefinition]:
        return [d for d in self.definitions.values() if d.study_id == study_id]

    async def visit_definition(self, definition_id: VisitDefinitionId) -> VisitDefinition | None:
        return self.definitions.get(definition_id)


class FakeConsents:
    def __init__(self, participants: FakeParticipants | None = None) -> None:
        self.documents: dict[uuid.UUID, ConsentVersion] = {}
        self.rows: dict[uuid.UUID, Consent] = {}
        self.withdrawals: dict[ParticipantId, Withdrawal] = {}
        self.participants = participants or FakeParticipants()

    async def add_version(self, version: ConsentVersion) -> None:
        self.documents[version.id] = version

    async def latest_version(self, study_id: StudyId) -> ConsentVersion | None:
        mine = [d for d in self.documents.values() if d.study_id == study_id]
        return max(mine, key=lambda d: d.number, default=None)

    async def versions(self, study_id: StudyId) -> Sequence[ConsentVersion]:
        return sorted(
            (d for d in self.documents.values() if d.study_id == study_id), key=lambda d: d.number
        )

    async def version(self, version_id: ConsentVersionId) -> ConsentVersion | None:
        return self.documents.get(version_id)

    async def add_consent(self, consent: Consent, study_id: StudyId) -> None:
        self.rows[consent.id] = consent

    async def consent(self, consent_id: uuid.UUID) -> Consent | None:
        return self.rows.get(consent_id)

    async def latest_consent(self, participant_id: ParticipantId) -> Consent | None:
        mine = [c for c in self.rows.values() if c.participant_id == participant_id]
        return max(mine, key=lambda c: c.signed_at, default=None)

    async def consents_of(self, participant_id: ParticipantId) -> Sequence[Consent]:
        mine = [c for c in self.rows.values() if c.participant_id == participant_id]
        return sorted(mine, key=lambda c: c.signed_at)

    async def signed_languages(self, study_id: StudyId) -> Sequence[str]:
        active = [
            p for p in self.participants.rows.values() if p.study_id == study_id and p.is_active
        ]
        latest = [await self.latest_consent(p.id) for p in active]
        return sorted({c.language for c in latest if c is not None})

    async def add_withdrawal(self, withdrawal: Withdrawal, study_id: StudyId) -> None:
        self.withdrawals[withdrawal.participant_id] = withdrawal

    async def withdrawal(self, participant_id: ParticipantId) -> Withdrawal | None:
        return self.withdrawals.get(participant_id)


class FakeSignatures:
    def __init__(self) -> None:
        self.rows: list[Signature] = []

    async def add(self, signature: Signature) -> None:
        self.rows.append(signature)

    async def for_records(self, record_ids: Sequence[uuid.UUID]) -> Sequence[Signature]:
        return [s for s in self.rows if s.record_id in record_ids]


class FakeVisits:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Visit] = {}

    async def add(self, visit: Visit) -> None:
        self.rows[visit.id] = visit

    async def get(self, visit_id: VisitId) -> Visit | None:
        return self.rows.get(visit_id)

    async def update(self, visit: Visit) -> None:
        if self.rows[visit.id].version != visit.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[visit.id] = visit

    async def page(
        self, filters: VisitFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[Visit]:
        rows = (
            v
            for v in self.rows.values()
            if _visible(visible, v.study_id, v.site_id, v.participant_id)
            and (filters.participant_id is None or v.participant_id == filters.participant_id)
            and (filters.site_id is None or v.site_id == filters.site_id)
            and (filters.status is None or v.status is filters.status)
            and (filters.upcoming_from is None or v.starts_at >= filters.upcoming_from)
        )
        return keyset_window(
            rows, lambda v: (v.starts_at, v.id), [datetime.fromisoformat, uuid.UUID], request
        )


class FakeQueries:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, DataQuery] = {}

    async def add(self, query: DataQuery) -> None:
        self.rows[query.id] = query

    async def get(self, query_id: DataQueryId) -> DataQuery | None:
        return self.rows.get(query_id)

    async def update(self, query: DataQuery) -> None:
        self.rows[query.id] = query

    async def page(
        self, filters: QueryFilter, visible: ReadFilter, request: PageRequest
    ) -> Page[DataQuery]:
        rows = (
            q
            for q in self.rows.values()
            if _visible(visible, q.study_id, q.site_id, q.participant_id)
            and (filters.status is None or q.status is filters.status)
        )
        return keyset_window(rows, lambda q: (q.id,), [uuid.UUID], request)


class FakeRecords:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def locate(self, record_type: str, record_id: uuid.UUID) -> Located | None:
        stores: dict[str, dict[Any, Any]] = {
            "Participant": self._uow.participants.rows,
            "Visit": self._uow.visits.rows,
            "Consent": self._uow.consents.rows,
        }
        record = stores.get(record_type, {}).get(record_id)
        if record is None:
            return None
        participant = (
            record
            if record_type == "Participant"
            else self._uow.participants.rows.get(record.participant_id)
        )
        if participant is None:
            return None
        return Located(record, participant.study_id, participant.site_id, participant.id)


class FakeQuestionnaires:
    def __init__(self) -> None:
        self.rows: list[PublishedQuestionnaire] = []

    async def add(self, published: PublishedQuestionnaire) -> None:
        self.rows.append(published)

    async def all(self, study_id: StudyId) -> Sequence[PublishedQuestionnaire]:
        return [q for q in self.rows if q.study_id == study_id]


class FakeDiaries:
    def __init__(self) -> None:
        self.schedule_rows: dict[uuid.UUID, DiarySchedule] = {}
        self.rows: dict[uuid.UUID, DiaryEntry] = {}
        self.requests: list[DataChangeRequest] = []

    async def add_schedule(self, schedule: DiarySchedule) -> None:
        self.schedule_rows[schedule.id] = schedule

    async def schedules(self, study_id: StudyId) -> Sequence[DiarySchedule]:
        return [s for s in self.schedule_rows.values() if s.study_id == study_id]

    async def get_many(self, entry_ids: Sequence[uuid.UUID]) -> Sequence[DiaryEntry]:
        return [self.rows[i] for i in entry_ids if i in self.rows]

    async def fingerprint(self, participant_id: ParticipantId, digest: str) -> str:
        return f"{participant_id}:{digest}"

    async def get(self, entry_id: uuid.UUID) -> DiaryEntry | None:
        return self.rows.get(entry_id)

    async def try_add(self, entry: DiaryEntry) -> bool:
        taken = entry.status is EntryStatus.ACCEPTED and any(
            e.status is EntryStatus.ACCEPTED
            and (e.participant_id, e.schedule_id, e.occurrence_key)
            == (entry.participant_id, entry.schedule_id, entry.occurrence_key)
            for e in self.rows.values()
        )
        if entry.id in self.rows or taken:
            return False
        self.rows[entry.id] = entry
        return True

    async def update(self, entry: DiaryEntry) -> None:
        self.rows[entry.id] = entry

    async def answered(self, participant_ids: Sequence[ParticipantId]) -> Sequence[DiaryEntry]:
        return [
            e
            for e in self.rows.values()
            if e.participant_id in participant_ids and e.status is EntryStatus.ACCEPTED
        ]

    async def page(self, participant_id: ParticipantId, request: PageRequest) -> Page[DiaryEntry]:
        rows = (e for e in self.rows.values() if e.participant_id == participant_id)
        return keyset_window(
            rows, lambda e: (e.due_at, e.id), [datetime.fromisoformat, uuid.UUID], request
        )

    async def add_change_request(self, request: DataChangeRequest) -> None:
        self.requests.append(request)

    async def change_requests(self, record_id: uuid.UUID) -> Sequence[DataChangeRequest]:
        return [r for r in self.requests if r.record_id == record_id]


class FakeDevices:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Device] = {}
        self.held: list[tuple[DeviceId, ParticipantId, datetime, datetime | None]] = []

    async def add(self, device: Device) -> None:
        self.rows[device.id] = device

    async def get(self, device_id: DeviceId) -> Device | None:
        return self.rows.get(device_id)

    async def get_many(self, device_ids: Sequence[DeviceId]) -> Sequence[Device]:
        return [self.rows[d] for d in device_ids if d in self.rows]

    async def update(self, device: Device) -> None:
        self.rows[device.id] = device

    async def periods(self, device_ids: Sequence[DeviceId]) -> Sequence[Assignment]:
        return [
            Assignment(self.rows[d], p, since, until)
            for d, p, since, until in self.held
            if d in device_ids
        ]

    async def assigned_to(self, participant_id: ParticipantId) -> Sequence[Device]:
        return [d for d in self.rows.values() if d.participant_id == participant_id]

    async def at_site(self, site_id: SiteId) -> Sequence[Device]:
        return [d for d in self.rows.values() if d.site_id == site_id]

    async def assignments_of(self, participant_id: ParticipantId) -> Sequence[Assignment]:
        return [
            Assignment(self.rows[d], p, since, until)
            for d, p, since, until in self.held
            if p == participant_id
        ]

    async def open_assignment(
        self, device_id: DeviceId, participant_id: ParticipantId, at: datetime
    ) -> None:
        self.held.append((device_id, participant_id, at, None))

    async def close_assignment(self, device_id: DeviceId, at: datetime) -> None:
        self.held = [
            (d, p, since, at if d == device_id and until is None else until)
            for d, p, since, until in self.held
        ]


class FakeReadings:
    """Deduplicates like the database's unique key does."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, StoredReading] = {}

    async def add_batch(
        self, readings: Sequence[StoredReading], *, store: bool = True
    ) -> tuple[set[uuid.UUID], dict[uuid.UUID, StoredReading]]:
        by_key = {self._key(r): r for r in self.rows.values()}
        new, found = set(), {}
        for reading in sorted(readings, key=self._key):
            existing = by_key.get(self._key(reading))
            if existing is not None:
                found[reading.id] = existing
            elif store:
                by_key[self._key(reading)] = reading
                self.rows[reading.id] = reading
                new.add(reading.id)
        return new, found

    @staticmethod
    def _key(r: StoredReading) -> tuple[str, str, str, str]:
        return (
            str(r.device_id),
            r.reading.kind.value,
            r.reading.effective_key.astimezone(UTC).isoformat(),
            r.reading.source_id,
        )

    async def get(self, reading_id: uuid.UUID) -> StoredReading | None:
        return self.rows.get(reading_id)

    async def update(self, reading: StoredReading) -> None:
        self.rows[reading.id] = reading

    async def page(
        self, participant_id: ParticipantId, filters: ReadingFilter, request: PageRequest
    ) -> Page[StoredReading]:
        rows = (
            r
            for r in self.rows.values()
            if r.participant_id == participant_id
            and (
                filters.include_deleted
                or (r.deleted_at is None and r.status is not ReadingStatus.REJECTED)
            )
        )
        return keyset_window(
            rows,
            lambda r: (r.reading.effective_start, r.id),
            [datetime.fromisoformat, uuid.UUID],
            request,
        )

    async def quarantined(
        self, site_id: SiteId, participant_id: ParticipantId | None, request: PageRequest
    ) -> Page[StoredReading]:
        rows = (
            r
            for r in self.rows.values()
            if r.site_id == site_id
            and r.status is ReadingStatus.QUARANTINED
            and participant_id in (None, r.participant_id)
        )
        return keyset_window(
            rows,
            lambda r: (r.reading.effective_start, r.id),
            [datetime.fromisoformat, uuid.UUID],
            request,
        )

    async def daily(
        self,
        participant_id: ParticipantId,
        kind: ReadingKind,
        zones: Sequence[ZoneChange],
        first: date,
        last: date,
    ) -> Sequence[DailySummary]:
        return []


class FakeExports:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, ExportJob] = {}

    async def add(self, job: ExportJob) -> None:
        self.rows[job.id] = job

    async def get(self, job_id: uuid.UUID) -> ExportJob | None:
        return self.rows.get(job_id)

    async def lock(self, job_id: uuid.UUID) -> ExportJob | None:
        return self.rows.get(job_id)

    async def update(self, job: ExportJob) -> None:
        self.rows[job.id] = job

    async def beat(self, job_id: uuid.UUID, rows_done: int, rows_total: int, now: datetime) -> None:
        job = self.rows[job_id]
        self.rows[job_id] = dataclasses.replace(
            job, rows_done=rows_done, rows_total=rows_total, heartbeat_at=now
        )

    async def of_study(self, study_id: StudyId, limit: int) -> Sequence[ExportJob]:
        found = [j for j in self.rows.values() if j.study_id == study_id]
        return sorted(found, key=lambda j: j.requested_at, reverse=True)[:limit]

    async def unfinished(self, study_id: StudyId) -> int:
        return sum(1 for j in self.rows.values() if j.study_id == study_id and j.unfinished)

    async def expired(self, finished_before: datetime, limit: int) -> Sequence[ExportJob]:
        done = [
            j
            for j in self.rows.values()
            if j.status is ExportStatus.DONE
            and j.files_removed_at is None
            and j.finished_at is not None
            and j.finished_at < finished_before
        ]
        return sorted(done, key=lambda j: j.finished_at or finished_before)[:limit]


class FakeUnitOfWork:
    """Commits are counted and events kept; a failed block leaves the stores untouched."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.studies = FakeStudies(self)
        self.sites = FakeSites()
        self.participants = FakeParticipants()
        self.users = FakeUsers()
        self.contacts = FakeContacts()
        self.sessions = FakeSessions()
        self.enrolment = FakeEnrolment()
        self.design = FakeDesign()
        self.consents = FakeConsents(self.participants)
        self.signatures = FakeSignatures()
        self.visits = FakeVisits()
        self.queries = FakeQueries()
        self.records = FakeRecords(self)
        self.questionnaires = FakeQuestionnaires()
        self.diaries = FakeDiaries()
        self.devices = FakeDevices()
        self.exports = FakeExports()
        self.readings = FakeReadings()
        self.trail = FakeTrail()
        self.keys = FakeKeys()
        self.events: list[Change] = []
        self.commits = 0
        self.enqueued: list[Work] = []  # work handed to the worker by committed changes
        self.cancelled_work: list[str] = []  # keys cancelled by committed changes
        self._pending: list[Change] = []
        self._work: list[Work] = []
        self._cancels: list[str] = []
        self._snapshot: dict[str, object] = {}

    def __call__(self) -> Self:
        return self

    def record(self, change: Change) -> None:
        self._pending.append(change)

    def enqueue(self, work: Work) -> None:
        self._work.append(work)

    async def cancel_work(self, key: str) -> None:
        self._cancels.append(key)

    async def commit(self) -> None:
        self.events.extend(self._pending)
        self.enqueued.extend(self._work)
        self.cancelled_work.extend(self._cancels)
        self._forget()
        self.commits += 1
        self._snapshot = self._take()

    async def rollback(self) -> None:
        self._forget()
        self._restore()

    def _forget(self) -> None:
        self._pending.clear()
        self._work.clear()
        self._cancels.clear()

    def _take(self) -> dict[str, object]:
        return {type(s).__name__: dict(s.rows) for s in self._stores()}

    def _stores(
        self,
    ) -> tuple[FakeStudies | FakeSites | FakeParticipants | FakeUsers | FakeContacts, ...]:
        return (self.studies, self.sites, self.participants, self.users, self.contacts)

    def _restore(self) -> None:
        for store in self._stores():
            store.rows = dict(self._snapshot[type(store).__name__])  # type: ignore[call-overload]

    async def __aenter__(self) -> Self:
        self._snapshot = self._take()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()


class FakePasswordScreen:
    """Refuses the passwords it is told are common; the real judge is tested on its own."""

    def __init__(self, common: frozenset[str] = frozenset({"password1234", "123456789012"})):
        self.common = common
        self.hints: list[str] = []

    def weakness(self, password: str, hints: Sequence[str]) -> str | None:
        self.hints = list(hints)
        return "This is a very common password." if password in self.common else None


class FakePasswords:
    """Reversible 'hashing' is fine in unit tests: the real argon2 is tested against PostgreSQL."""

    def hash(self, password: str) -> str:
        return f"fake${password}"

    def verify(self, hashed: str, password: str) -> bool:
        return hashed == f"fake${password}"

    def needs_rehash(self, hashed: str) -> bool:
        return False

    def burn(self, password: str) -> None:
        return None


class FakeTokens:
    """Readable tokens: 'KIND:subject:session'; digests are the secret's bytes reversed."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.counter = 0
        self.clock = clock or FakeClock()

    def issue_access(
        self,
        *,
        subject: uuid.UUID,
        kind: ActorKind,
        session_id: uuid.UUID,
        issued_at: datetime | None = None,
        token_id: uuid.UUID | None = None,
    ) -> IssuedToken:
        issued = issued_at or self.clock.now()
        return IssuedToken(f"{kind.value}:{subject}:{session_id}", issued + timedelta(minutes=15))

    def verify_access(self, token: str) -> TokenClaims:
        kind, subject, session = token.split(":")
        return TokenClaims(uuid.UUID(subject), ActorKind(kind), uuid.UUID(session))

    def new_secret(self) -> str:
        self.counter += 1
        return f"secret-{self.counter}-{uuid.uuid4().hex}"

    def successor(self, secret: str) -> str:
        return f"next-{secret}"

    def digest(self, secret: str) -> bytes:
        return secret.encode()[::-1]
