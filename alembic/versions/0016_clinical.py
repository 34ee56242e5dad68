"""clinical: concomitant medications and protocol deviations

Revision ID: 0016_clinical
Revises: 0015_webhooks
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_clinical"
down_revision: str | None = "0015_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _owned(table: str) -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f(f'fk_{table}_participant_id_participants')),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f(f'fk_{table}_site_id_sites')),
        sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f(f'fk_{table}_study_id_studies')),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
    ]


def upgrade() -> None:
    op.create_table(
        'concomitant_medications',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('participant_id', sa.Uuid(), nullable=False),
        sa.Column('study_id', sa.Uuid(), nullable=False),
        sa.Column('site_id', sa.Uuid(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('reported_by_participant', sa.Boolean(), nullable=False),
        sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('recorded_by', sa.Uuid(), nullable=True),
        sa.Column('reason_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        *_owned('concomitant_medications'),
    )
    op.create_index('ix_concomitant_medications_participant', 'concomitant_medications', ['participant_id', 'reported_at'], unique=False)
    op.create_table(
        'protocol_deviations',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('participant_id', sa.Uuid(), nullable=False),
        sa.Column('study_id', sa.Uuid(), nullable=False),
        sa.Column('site_id', sa.Uuid(), nullable=False),
        sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('term', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('occurred_on', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('trigger_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('trigger_id', sa.Uuid(), nullable=True),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('detected_by', sa.Uuid(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_by', sa.Uuid(), nullable=True),
        sa.Column('reason_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        *_owned('protocol_deviations'),
    )
    op.create_index('ix_protocol_deviations_participant', 'protocol_deviations', ['participant_id', 'detected_at'], unique=False)
    op.create_index('uq_protocol_deviations_trigger', 'protocol_deviations', ['trigger_type', 'trigger_id', 'category'], unique=True, postgresql_where='trigger_id IS NOT NULL')


def downgrade() -> None:
    op.drop_index('uq_protocol_deviations_trigger', table_name='protocol_deviations')
    op.drop_index('ix_protocol_deviations_participant', table_name='protocol_deviations')
    op.drop_table('protocol_deviations')
    op.drop_index('ix_concomitant_medications_participant', table_name='concomitant_medications')
    op.drop_table('concomitant_medications')
