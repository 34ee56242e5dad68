"""The ports the domain needs from the outside world, as Protocols that infra implements."""

from __future__ import annotations

from domain.ports.audit import AuditTrail, DataKeys
from domain.ports.consent import ConsentRepository, SignatureRepository
from domain.ports.contacts import ContactRepository
from domain.ports.devices import DeviceRepository, ReadingRepository
from domain.ports.diaries import DiaryRepository, QuestionnaireRepository
from domain.ports.enrolment import EnrolmentRepository
from domain.ports.exports import ExportEngine, ExportProgress, ExportRepository
from domain.ports.occurrences import OccurrenceStore
from domain.ports.participants import ParticipantRepository
from domain.ports.studies import DesignRepository, SiteRepository, StudyRepository
from domain.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.ports.users import CallerLookup, SessionRepository, UserRepository
from domain.ports.visits import DataQueryRepository, RecordLocator, VisitRepository

__all__ = [
    "AuditTrail",
    "CallerLookup",
    "ConsentRepository",
    "ContactRepository",
    "DataKeys",
    "DataQueryRepository",
    "DesignRepository",
    "DeviceRepository",
    "DiaryRepository",
    "EnrolmentRepository",
    "ExportEngine",
    "ExportProgress",
    "ExportRepository",
    "OccurrenceStore",
    "ParticipantRepository",
    "QuestionnaireRepository",
    "ReadingRepository",
    "RecordLocator",
    "SessionRepository",
    "SignatureRepository",
    "SiteRepository",
    "StudyRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
    "VisitRepository",
]
