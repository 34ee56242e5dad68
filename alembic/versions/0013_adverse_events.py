"""adverse_events: participant-reported and site-recorded adverse events

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'adverse_events',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('participant_id', sa.Uuid(), nullable=False),
        sa.Column('study_id', sa.Uuid(), nullable=False),
        sa.Column('site_id', sa.Uuid(), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('reported_by', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('description_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('serious', sa.Boolean(), nullable=False),
        sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('recorded_by', sa.Uuid(), nullable=True),
        sa.Column('serious_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('report_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reported_to_sponsor_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_adverse_events_participant_id_participants')),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_adverse_events_site_id_sites')),
        sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_adverse_events_study_id_studies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_adverse_events')),
    )
    op.create_index('ix_adverse_events_participant', 'adverse_events', ['participant_id', 'reported_at'], unique=False)
    op.create_index('ix_adverse_events_study', 'adverse_events', ['study_id', 'participant_id', 'reported_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_adverse_events_study', table_name='adverse_events')
    op.drop_index('ix_adverse_events_participant', table_name='adverse_events')
    op.drop_table('adverse_events')
