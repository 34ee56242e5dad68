"""retention: a study's retention period, its closure and its purge

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing studies are open and keep the installation's minimum until one is set.
    op.add_column('studies', sa.Column('retention_years', sa.Integer(), nullable=True))
    op.add_column('studies', sa.Column('retention_from', sqlmodel.sql.sqltypes.AutoString(length=32), server_default='STUDY_CLOSURE', nullable=False))
    op.add_column('studies', sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('studies', sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(op.f('ck_studies_retention_years'), 'studies', 'retention_years IS NULL OR retention_years BETWEEN 1 AND 100')
    op.create_check_constraint(op.f('ck_studies_retention_from'), 'studies', "retention_from IN ('STUDY_CLOSURE')")
    op.create_check_constraint(op.f('ck_studies_purged_after_closure'), 'studies', 'purged_at IS NULL OR closed_at IS NOT NULL')


def downgrade() -> None:
    op.drop_constraint(op.f('ck_studies_purged_after_closure'), 'studies', type_='check')
    op.drop_constraint(op.f('ck_studies_retention_from'), 'studies', type_='check')
    op.drop_constraint(op.f('ck_studies_retention_years'), 'studies', type_='check')
    op.drop_column('studies', 'purged_at')
    op.drop_column('studies', 'closed_at')
    op.drop_column('studies', 'retention_from')
    op.drop_column('studies', 'retention_years')
