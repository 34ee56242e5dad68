"""Table definitions, one module per concept; importing this package registers them all."""

from infra.db.tables.audit import AuditEventRow
from infra.db.tables.base import Base
from infra.db.tables.checkpoints import CheckpointRow
from infra.db.tables.contacts import ContactRow
from infra.db.tables.enrolment import AppInstallationRow, EnrolmentCodeRow
from infra.db.tables.keys import DataKeyRow
from infra.db.tables.participants import ParticipantRow
from infra.db.tables.sealed_values import SealedValueRow
from infra.db.tables.sessions import RateLimitRow, RefreshTokenRow, SessionRow
from infra.db.tables.studies import SiteRow, StudyRow
from infra.db.tables.users import StaffGrantRow, StaffUserRow

metadata = Base.metadata

__all__ = [
    "AppInstallationRow",
    "AuditEventRow",
    "Base",
    "CheckpointRow",
    "ContactRow",
    "DataKeyRow",
    "EnrolmentCodeRow",
    "ParticipantRow",
    "RateLimitRow",
    "RefreshTokenRow",
    "SealedValueRow",
    "SessionRow",
    "SiteRow",
    "StaffGrantRow",
    "StaffUserRow",
    "StudyRow",
    "metadata",
]
