"""reminder policy: a diary schedule may carry its study's own reminder rules

Revision ID: 0019_reminder_policy
Revises: 0018_occurrences
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019_reminder_policy"
down_revision: str | None = "0018_occurrences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for every existing schedule: they keep the default policy they were reminded by.
    op.add_column(
        "diary_schedules",
        sa.Column("reminder_policy", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("diary_schedules", "reminder_policy")
