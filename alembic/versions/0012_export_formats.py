"""export formats: room in export_jobs.format for DATASET_JSON

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        'export_jobs', 'format', type_=sa.String(length=16), existing_type=sa.String(length=8)
    )


def downgrade() -> None:
    op.alter_column(
        'export_jobs', 'format', type_=sa.String(length=8), existing_type=sa.String(length=16)
    )
