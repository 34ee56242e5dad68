"""Table definitions, one module per concept; importing this package registers them all."""

from infra.db.tables.alerts import AlertRow, AlertRuleRow
from infra.db.tables.audit import AuditChainRow, AuditEventRow, PendingEventRow
from infra.db.tables.base import Base
from infra.db.tables.checkpoints import CheckpointRow
from infra.db.tables.clinical import AdverseEventRow, DeviationRow, MedicationRow
from infra.db.tables.consent import ConsentRow, ConsentVersionRow, SignatureRow, WithdrawalRow
from infra.db.tables.contacts import ContactRow
from infra.db.tables.data_downloads import DataDownloadRow
from infra.db.tables.design import ArmRow, VisitDefinitionRow
from infra.db.tables.devices import DeviceAssignmentRow, DeviceRow, ReadingRow
from infra.db.tables.diaries import (
    DataChangeRequestRow,
    DiaryEntryRow,
    DiaryScheduleRow,
    QuestionnaireVersionRow,
)
from infra.db.tables.enrolment import AppInstallationRow, EnrolmentCodeRow
from infra.db.tables.exports import ExportJobRow
from infra.db.tables.installation import InstallationKeyRow, InstallationRow
from infra.db.tables.keys import DataKeyRow
from infra.db.tables.notifications import NotificationRow, PushSubscriptionRow
from infra.db.tables.occurrences import DiaryOccurrenceRow, DiaryPlanRow
from infra.db.tables.participants import ParticipantRow
from infra.db.tables.sealed_values import SealedValueRow
from infra.db.tables.sessions import RateLimitRow, RefreshTokenRow, SessionRow
from infra.db.tables.studies import SiteRow, StudyRow
from infra.db.tables.users import StaffGrantRow, StaffUserRow
from infra.db.tables.visits import DataQueryRow, ParticipantZoneRow, VisitRow
from infra.db.tables.webhooks import WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow

metadata = Base.metadata

__all__ = [
    "AdverseEventRow",
    "AlertRow",
    "AlertRuleRow",
    "AppInstallationRow",
    "ArmRow",
    "AuditChainRow",
    "AuditEventRow",
    "Base",
    "CheckpointRow",
    "ConsentRow",
    "ConsentVersionRow",
    "ContactRow",
    "DataChangeRequestRow",
    "DataDownloadRow",
    "DataKeyRow",
    "DataQueryRow",
    "DeviationRow",
    "DeviceAssignmentRow",
    "DeviceRow",
    "DiaryEntryRow",
    "DiaryOccurrenceRow",
    "DiaryPlanRow",
    "DiaryScheduleRow",
    "EnrolmentCodeRow",
    "ExportJobRow",
    "InstallationKeyRow",
    "InstallationRow",
    "MedicationRow",
    "NotificationRow",
    "ParticipantRow",
    "ParticipantZoneRow",
    "PendingEventRow",
    "PushSubscriptionRow",
    "QuestionnaireVersionRow",
    "RateLimitRow",
    "ReadingRow",
    "RefreshTokenRow",
    "SealedValueRow",
    "SessionRow",
    "SignatureRow",
    "SiteRow",
    "StaffGrantRow",
    "StaffUserRow",
    "StudyRow",
    "VisitDefinitionRow",
    "VisitRow",
    "WebhookAttemptRow",
    "WebhookDeliveryRow",
    "WebhookEndpointRow",
    "WithdrawalRow",
    "metadata",
]
