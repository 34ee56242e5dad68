"""study reason codes: each study allows its own subset of the reason-code catalogue

Revision ID: 0020_study_reason_codes
Revises: 0019_reminder_policy
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020_study_reason_codes"
down_revision: str | None = "0019_reminder_policy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every existing study keeps the codes every study allowed before lists.
_DEFAULT = '\'["TRANSCRIPTION_ERROR", "PARTICIPANT_CLARIFICATION", "DEVICE_ERROR", "OTHER"]\'::jsonb'


def upgrade() -> None:
    op.add_column(
        "studies",
        sa.Column(
            "reason_codes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text(_DEFAULT),
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("ck_studies_reason_codes_other"), "studies", "reason_codes @> '[\"OTHER\"]'::jsonb"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_studies_reason_codes_other"), "studies", type_="check")
    op.drop_column("studies", "reason_codes")
