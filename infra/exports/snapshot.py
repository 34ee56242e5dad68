"""The study as of one position of its event log, read in one REPEATABLE READ transaction.

The first statement fixes the transaction's snapshot while no batch of the integrator can
run; then exactly the study's events that snapshot sees but that were not yet in the log are
sequenced, inside the same snapshot. So every row read afterwards is precisely the state the
study log's first `position` events describe, whatever is committed meanwhile. Other
studies' logs are not looked at. Nothing personal is decrypted except staff names (for
signatures and audit users) and a participant's date of birth, which is opened only to
compute the age at enrolment and never leaves this module; no other sealed column of a
participant is read. Readings are read as text rows rendered by PostgreSQL
(`reading_query.py`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Uuid, func, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.access import ReadFilter
from domain.clock import Clock
from domain.devices import StoredReading
from domain.diaries import DiaryEntry
from domain.errors import NotFound
from domain.exports import ExportJob
from domain.ids import StudyId
from domain.participants import ParticipantStatus
from domain.schedules import ZoneChange
from domain.studies import Site
from infra.crypto.keys import KeyProvider
from infra.db.consents import SqlConsentRepository
from infra.db.data_keys import DataKeyStore, FieldCipher
from infra.db.design import SqlDesignRepository
from infra.db.diaries import SqlDiaryRepository
from infra.db.questionnaires import SqlQuestionnaireRepository
from infra.db.readings import stored_reading
from infra.db.studies import SqlSiteRepository, SqlStudyRepository
from infra.db.tables import (
    AuditEventRow,
    ConsentRow,
    ContactRow,
    DiaryEntryRow,
    InstallationRow,
    ParticipantRow,
    ParticipantZoneRow,
    ReadingRow,
    SignatureRow,
    StaffUserRow,
    VisitRow,
)
from infra.db.visits import visit_from_row
from infra.eventlog.integrator import held
from infra.eventlog.logs import Log, log_of
from infra.exports.clinical import adverse_events_of, deviations_of, medications_of
from infra.exports.model import (
    Change,
    Event,
    Meta,
    RecordSignature,
    SignedConsent,
    Subject,
    SubjectInfo,
)
from infra.exports.reading_query import reading_batches
from infra.exports.readings import Batches

_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_INSTALLATION = InstallationRow.__table__  # type: ignore[attr-defined]
_PEOPLE = ParticipantRow.__table__  # type: ignore[attr-defined]
_CONSENTS = ConsentRow.__table__  # type: ignore[attr-defined]
_VISITS = VisitRow.__table__  # type: ignore[attr-defined]
_ENTRIES = DiaryEntryRow.__table__  # type: ignore[attr-defined]
_READINGS = ReadingRow.__table__  # type: ignore[attr-defined]
_ZONES = ParticipantZoneRow.__table__  # type: ignore[attr-defined]
_SIGNATURES = SignatureRow.__table__  # type: ignore[attr-defined]
_STAFF = StaffUserRow.__table__  # type: ignore[attr-defined]
_CONTACTS = ContactRow.__table__  # type: ignore[attr-defined]

SUBJECT_PAGE = 200
READING_BATCH = 2000
FORMER_STAFF = "(name erased)"


class SqlSnapshot:
    """A `Snapshot` over one open REPEATABLE READ transaction on `connection`."""

    def __init__(
        self,
        connection: AsyncConnection,
        session: AsyncSession,
        cipher: FieldCipher,
        meta: Meta,
        total: int,
    ) -> None:
        self._db = connection
        self._session = session
        self._cipher = cipher  # opens staff signers' printed names only
        self._meta = meta
        self.total = total  # rows to expect, roughly: for progress
        self._driver: Any = None  # the asyncpg connection of the transaction, once needed

    @property
    def meta(self) -> Meta:
        return self._meta

    @classmethod
    async def open(
        cls, connection: AsyncConnection, keys: KeyProvider, clock: Clock, job: ExportJob
    ) -> SqlSnapshot:
        """Fix the snapshot (this must be the transaction's first read) and load metadata."""
        async with held(connection.engine) as sequence:
            snapshot = await connection.scalar(text("SELECT pg_export_snapshot()"))
            point = await sequence(str(snapshot), job.study_id)
        session = AsyncSession(bind=connection)
        installation = await connection.scalar(select(_INSTALLATION.c.id))
        log = Log(uuid.UUID(str(installation)), log_of(job.study_id))
        study_id = job.study_id
        study = await SqlStudyRepository(session).get(study_id)
        if study is None:
            raise NotFound("Study")
        cipher = FieldCipher(DataKeyStore(session, keys, clock), keys)
        design = SqlDesignRepository(session)
        meta = Meta(
            export_id=job.id,
            study=study,
            sites=tuple(await _sites(session, study_id)),
            arms=tuple(await design.arms(study_id)),
            visit_definitions=tuple(
                sorted(await design.visit_definitions(study_id), key=lambda d: (d.day, d.code))
            ),
            questionnaires=tuple(
                sorted(
                    await SqlQuestionnaireRepository(session).all(study_id),
                    key=lambda q: (q.definition.code, q.definition.version),
                )
            ),
            consent_versions=tuple(
                sorted(
                    await SqlConsentRepository(session, cipher).versions(study_id),
                    key=lambda v: v.number,
                )
            ),
            staff=await _staff_names(connection, cipher, study_id),
            position=point.size,
            chain_head=point.head.hex(),
            created_at=clock.now(),
            log=log.origin,
        )
        return cls(connection, session, cipher, meta, await _total(connection, study_id))

    async def subjects(self) -> AsyncIterator[Subject]:
        after = ""
        while True:
            rows = (
                await self._db.execute(
                    select(_PEOPLE)
                    .where(_PEOPLE.c.study_id == self._meta.study.id, _PEOPLE.c.subject_id > after)
                    .order_by(_PEOPLE.c.subject_id)
                    .limit(SUBJECT_PAGE)
                )
            ).all()
            for row in rows:
                yield await self._subject(row)
            if len(rows) < SUBJECT_PAGE:
                return
            after = rows[-1].subject_id

    async def _subject(self, row: Any) -> Subject:
        pid = row.id
        consents = [
            SignedConsent(c.id, c.consent_version_id, c.number, c.language, c.signed_at)
            for c in await self._rows(
                select(_CONSENTS)
                .where(_CONSENTS.c.participant_id == pid)
                .order_by(_CONSENTS.c.signed_at)
            )
        ]
        visits = [
            visit_from_row(v, notes=None)  # notes are personal: never exported
            for v in await self._rows(
                select(_VISITS).where(_VISITS.c.participant_id == pid).order_by(_VISITS.c.starts_at)
            )
        ]
        entries = await self._entries(pid)
        versions: dict[uuid.UUID, int] = {pid: row.version}
        versions |= {v.id: v.version for v in visits} | {e.id: e.version for e in entries}
        versions |= {c.id: 1 for c in consents}
        count = await self._db.scalar(
            select(func.count()).select_from(_READINGS).where(_READINGS.c.participant_id == pid)
        )
        zones = tuple(
            ZoneChange(z.effective_from, z.timezone)
            for z in await self._rows(
                select(_ZONES)
                .where(_ZONES.c.participant_id == pid)
                .order_by(_ZONES.c.effective_from)
            )
        )
        info = dataclasses.replace(_info(row), zones=zones, age=await self._age(row))
        return Subject(
            info=info,
            consents=tuple(consents),
            visits=tuple(visits),
            entries=tuple(entries),
            signatures=tuple(await self._signatures(pid, versions)),
            events=tuple(await self._events(pid)),
            reading_count=int(count or 0),
            readings=self._readings(pid),
            rows=self._reading_rows(pid),
            adverse_events=tuple(await adverse_events_of(self._session, pid)),
            medications=tuple(await medications_of(self._session, pid)),
            deviations=tuple(await deviations_of(self._session, pid)),
        )

    async def _age(self, row: Any) -> int | None:
        """Whole years at enrolment, from the sealed date of birth: the date is opened here,
        used once and dropped; nothing else of the participant's contact is read."""
        if row.enrolled_on is None or row.erased_at is not None:
            return None
        blob = await self._db.scalar(
            select(_CONTACTS.c.date_of_birth_sealed).where(_CONTACTS.c.participant_id == row.id)
        )
        if blob is None:
            return None
        opened = await self._cipher.open(
            row.id, "participant_contacts", "date_of_birth", row.id, blob
        )
        return None if opened is None else age_at(date.fromisoformat(opened), row.enrolled_on)

    def _reading_rows(self, pid: uuid.UUID) -> Batches:
        async def batches() -> AsyncIterator[Sequence[Any]]:
            if self._driver is None:
                self._driver = (await self._db.get_raw_connection()).driver_connection
            async for batch in reading_batches(self._driver, pid):
                yield batch

        return batches

    async def _rows(self, statement: Any) -> Sequence[Any]:
        return (await self._db.execute(statement)).all()

    async def _entries(self, pid: uuid.UUID) -> list[DiaryEntry]:
        # Free text and proxy reasons stay sealed: `reveal=False` never opens them.
        repository = SqlDiaryRepository(self._session, _NO_CIPHER)  # type: ignore[arg-type]
        rows = await self._rows(
            select(_ENTRIES).where(_ENTRIES.c.participant_id == pid).order_by(_ENTRIES.c.due_at)
        )
        return [await repository.entry_of(r, reveal=False) for r in rows]

    async def _signatures(
        self, pid: uuid.UUID, versions: dict[uuid.UUID, int]
    ) -> list[RecordSignature]:
        records = union_all(
            select(literal(pid, Uuid()).label("id")),
            select(_VISITS.c.id).where(_VISITS.c.participant_id == pid),
            select(_ENTRIES.c.id).where(_ENTRIES.c.participant_id == pid),
            select(_CONSENTS.c.id).where(_CONSENTS.c.participant_id == pid),
        )
        rows = await self._rows(
            select(_SIGNATURES)
            .where(_SIGNATURES.c.record_id.in_(select(records.subquery().c.id)))
            .order_by(_SIGNATURES.c.signed_at, _SIGNATURES.c.id)
        )
        return [
            RecordSignature(
                id=s.id,
                signer_id=s.signer_id,
                signer=await self._printed_name(s) if s.signer_kind == "STAFF" else None,
                meaning=s.meaning,
                signed_at=s.signed_at,
                record_type=s.record_type,
                record_id=s.record_id,
                record_version=s.record_version,
                valid=versions.get(s.record_id) == s.record_version,
                current_version=versions.get(s.record_id),
            )
            for s in rows
        ]

    async def _printed_name(self, row: Any) -> str:
        """The name as it was signed (Part 11), not the account's current one."""
        name = await self._cipher.open(
            row.signer_id, "signatures", "printed_name", row.id, row.printed_name_sealed
        )
        return name if name is not None else FORMER_STAFF

    async def _events(self, pid: uuid.UUID) -> list[Event]:
        # Everything the snapshot sees is in the log up to `position` (see `open`).
        rows = await self._rows(
            select(_EVENTS).where(_EVENTS.c.participant_id == pid).order_by(_EVENTS.c.ingest)
        )
        return [_event(r) for r in rows]

    def _readings(self, pid: uuid.UUID) -> Callable[[], AsyncIterator[StoredReading]]:
        async def stream() -> AsyncIterator[StoredReading]:
            result = await self._db.stream(
                select(_READINGS)
                .where(_READINGS.c.participant_id == pid)
                .order_by(_READINGS.c.effective_start, _READINGS.c.id)
                .execution_options(yield_per=READING_BATCH)
            )
            async for partition in result.partitions(READING_BATCH):
                for row in partition:
                    yield stored_reading(row)

        return stream


class _NoCipher:
    """Stands in for the cipher where nothing may be decrypted."""

    async def open(self, *args: object) -> str | None:
        raise AssertionError("an export never opens participants' sealed values")


_NO_CIPHER = _NoCipher()


async def _sites(session: AsyncSession, study_id: StudyId) -> Sequence[Site]:
    everything = ReadFilter(everything=True)
    return await SqlSiteRepository(session).list_for_studies([study_id], everything)


async def _staff_names(
    connection: AsyncConnection, cipher: FieldCipher, study_id: StudyId
) -> dict[uuid.UUID, str]:
    """Printed names of the staff who acted on the study's records (audit users, signers)."""
    ids = select(_EVENTS.c.actor_id).where(
        _EVENTS.c.study_id == study_id,
        _EVENTS.c.actor_kind == "STAFF",
        _EVENTS.c.actor_id.is_not(None),
    )
    rows = (
        await connection.execute(
            select(_STAFF.c.id, _STAFF.c.name_sealed).where(_STAFF.c.id.in_(ids.distinct()))
        )
    ).all()
    names = {}
    for row in rows:
        name = await cipher.open(row.id, "staff_users", "name", row.id, row.name_sealed)
        names[row.id] = name if name is not None else FORMER_STAFF
    return dict(sorted(names.items()))


async def _total(connection: AsyncConnection, study_id: StudyId) -> int:
    total = 0
    for table in (_PEOPLE, _VISITS, _ENTRIES, _READINGS):
        count = await connection.scalar(
            select(func.count()).select_from(table).where(table.c.study_id == study_id)
        )
        total += int(count or 0)
    return total


def _info(row: Any) -> SubjectInfo:
    return SubjectInfo(
        id=row.id,
        subject_id=row.subject_id,
        site_id=row.site_id,
        status=ParticipantStatus(row.status),
        timezone=row.timezone,
        arm_id=row.arm_id,
        enrolled_on=row.enrolled_on,
        registered_at=row.registered_at,
        status_changed_at=row.status_changed_at,
        erased=row.erased_at is not None,
    )


def _event(row: Any) -> Event:
    origin = row.origin or {}
    device_time = origin.get("deviceTime")
    return Event(
        # Orders the subject's events: the order they were written in (for events from
        # before per-study logs, their position in the legacy log; after, it follows each
        # record's order in the study's log).
        position=row.ingest,
        id=row.id,
        recorded_at=row.recorded_at,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        site_id=row.site_id,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        action=row.action,
        changes=tuple(_change(f) for f in row.fields),
        # Reasons are free text: even the clear ones (a legal basis) may name a person. An
        # export says that a change had a reason in the log, never what it says.
        reason=None,
        device_time=datetime.fromisoformat(device_time) if device_time else None,
        reason_code=_reason_code(row),
    )


def _reason_code(row: Any) -> str | None:
    """The coded reason for change: kept beside the reason in the log, or (adverse events,
    medications, deviations) logged as the `reason_code` field of the change."""
    code = (row.reason or {}).get("code")
    if code is None:
        code = next((f.get("new") for f in row.fields if f.get("field") == "reason_code"), None)
    return str(code) if code is not None else None


def _change(entry: dict[str, Any]) -> Change:
    if entry.get("personal"):
        return Change(entry["field"], None, None, personal=True)
    return Change(entry["field"], entry.get("old"), entry.get("new"))


def age_at(born: date, day: date) -> int:
    """Completed years on `day` (a birthday on 29 February counts from 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
