"""The SQL unit of work: one session, its repositories, the events it must log and the work
it hands to the worker (the outbox), all in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.audit import Change
from domain.clock import Clock
from domain.occurrences import DEFAULT_HORIZON
from domain.outbox import Work
from infra.changefeed import notify as changefeed
from infra.crypto.keys import KeyProvider
from infra.db.adverse_events import SqlAdverseEventRepository
from infra.db.alerts import SqlAlertRepository
from infra.db.consents import SqlConsentRepository, SqlSignatureRepository
from infra.db.contacts import SqlContactRepository
from infra.db.data_downloads import SqlDataDownloadRepository
from infra.db.data_keys import DataKeyAdmin, DataKeyStore, FieldCipher
from infra.db.data_queries import SqlDataQueryRepository
from infra.db.design import SqlDesignRepository
from infra.db.deviations import SqlDeviationRepository
from infra.db.devices import SqlDeviceRepository
from infra.db.diaries import SqlDiaryRepository
from infra.db.enrolment import SqlEnrolmentRepository
from infra.db.exports import SqlExportRepository
from infra.db.medications import SqlMedicationRepository
from infra.db.notifications import SqlNotificationRepository
from infra.db.occurrences import SqlOccurrenceStore
from infra.db.participants import SqlParticipantRepository
from infra.db.questionnaires import SqlQuestionnaireRepository
from infra.db.readings import SqlReadingRepository
from infra.db.records import SqlRecordLocator
from infra.db.sessions import SqlSessionRepository
from infra.db.studies import SqlSiteRepository, SqlStudyRepository
from infra.db.users import SqlUserRepository
from infra.db.visits import SqlVisitRepository
from infra.db.webhooks import SqlWebhookRepository
from infra.eventlog.trail import SqlAuditTrail
from infra.eventlog.writer import EventLogWriter
from infra.worker import outbox


@dataclass(frozen=True)
class Storage:
    """What every unit of work shares: the session factory, the clock, keys and the log."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    keys: KeyProvider
    log: EventLogWriter
    diary_horizon: timedelta = DEFAULT_HORIZON  # how far ahead diary plans reach


class SqlUnitOfWork:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._session: AsyncSession | None = None
        self._cipher: FieldCipher | None = None
        self._pending: list[Change] = []
        self._work: list[Work] = []

    @property
    def clock(self) -> Clock:
        return self._storage.clock

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        return self._session

    @property
    def cipher(self) -> FieldCipher:
        if self._cipher is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        return self._cipher

    @property
    def studies(self) -> SqlStudyRepository:
        return SqlStudyRepository(self.session)

    @property
    def sites(self) -> SqlSiteRepository:
        return SqlSiteRepository(self.session)

    @property
    def participants(self) -> SqlParticipantRepository:
        return SqlParticipantRepository(self.session, self.cipher)

    @property
    def users(self) -> SqlUserRepository:
        return SqlUserRepository(self.session, self.cipher)

    @property
    def contacts(self) -> SqlContactRepository:
        return SqlContactRepository(self.session, self.cipher, self.clock)

    @property
    def sessions(self) -> SqlSessionRepository:
        return SqlSessionRepository(self.session, self.clock)

    @property
    def enrolment(self) -> SqlEnrolmentRepository:
        return SqlEnrolmentRepository(self.session, self.clock)

    @property
    def design(self) -> SqlDesignRepository:
        return SqlDesignRepository(self.session)

    @property
    def consents(self) -> SqlConsentRepository:
        return SqlConsentRepository(self.session, self.cipher)

    @property
    def signatures(self) -> SqlSignatureRepository:
        return SqlSignatureRepository(self.session, self.cipher)

    @property
    def visits(self) -> SqlVisitRepository:
        return SqlVisitRepository(self.session, self.cipher)

    @property
    def queries(self) -> SqlDataQueryRepository:
        return SqlDataQueryRepository(self.session, self.cipher)

    @property
    def records(self) -> SqlRecordLocator:
        return SqlRecordLocator(self)

    @property
    def questionnaires(self) -> SqlQuestionnaireRepository:
        return SqlQuestionnaireRepository(self.session)

    @property
    def diaries(self) -> SqlDiaryRepository:
        return SqlDiaryRepository(self.session, self.cipher)

    @property
    def occurrences(self) -> SqlOccurrenceStore:
        return SqlOccurrenceStore(self.session, self._storage.diary_horizon)

    @property
    def devices(self) -> SqlDeviceRepository:
        return SqlDeviceRepository(self.session, self.cipher)

    @property
    def exports(self) -> SqlExportRepository:
        return SqlExportRepository(self.session)

    @property
    def readings(self) -> SqlReadingRepository:
        return SqlReadingRepository(self.session, self.cipher)

    @property
    def adverse_events(self) -> SqlAdverseEventRepository:
        return SqlAdverseEventRepository(self.session, self.cipher)

    @property
    def webhooks(self) -> SqlWebhookRepository:
        return SqlWebhookRepository(self.session, self.cipher)

    @property
    def medications(self) -> SqlMedicationRepository:
        return SqlMedicationRepository(self.session)

    @property
    def deviations(self) -> SqlDeviationRepository:
        return SqlDeviationRepository(self.session)

    @property
    def notifications(self) -> SqlNotificationRepository:
        return SqlNotificationRepository(self.session, self.cipher)

    @property
    def alerts(self) -> SqlAlertRepository:
        return SqlAlertRepository(self.session, self.cipher)

    @property
    def data_downloads(self) -> SqlDataDownloadRepository:
        return SqlDataDownloadRepository(self.session, self.cipher)

    @property
    def trail(self) -> SqlAuditTrail:
        return SqlAuditTrail(self.session, self.cipher, self.clock)

    @property
    def keys(self) -> DataKeyAdmin:
        return DataKeyAdmin(self.cipher.keys, self._storage.keys, self.session)

    def record(self, change: Change) -> None:
        self._pending.append(change)

    def enqueue(self, work: Work) -> None:
        outbox.check(work)
        self._work.append(work)

    async def cancel_work(self, key: str) -> None:
        await outbox.cancel(self.session, key)

    async def commit(self) -> None:
        # The outbox's jobs, then the events, in this same transaction: all commit or none
        # does. Jobs first: the log's append holds its lock until commit, so keep it short.
        if self._work:
            await outbox.defer(self.session, self._work)
            self._work.clear()
        if self._pending:
            # Delivered by PostgreSQL only if this transaction commits.
            await changefeed.emit(self.session, self._pending)
            await self._storage.log.append(self.session, self._pending, self.clock, self.cipher)
            self._pending.clear()
        await self.session.commit()

    async def rollback(self) -> None:
        self._clear()
        await self.session.rollback()

    def _clear(self) -> None:
        self._pending.clear()
        self._work.clear()

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("a unit of work is not re-entrant")
        self._session = self._storage.sessions()
        keys = DataKeyStore(self._session, self._storage.keys, self._storage.clock)
        self._cipher = FieldCipher(keys, self._storage.keys)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session, self._cipher = self.session, None, None
        try:
            self._clear()
            await session.rollback()  # nothing after a commit; undoes anything uncommitted
        finally:
            await session.close()


class SqlUnitOfWorkFactory:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._storage)
