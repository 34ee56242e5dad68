"""occurrences: each participant's planned diary occurrences, stored for a rolling horizon

Revision ID: 0018_occurrences
Revises: 0017_alerts
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0018_occurrences"
down_revision: str | None = "0017_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Derived data only: plans are made again on demand, so nothing needs backfilling.
    op.create_table(
        'diary_plans',
        sa.Column('participant_id', sa.Uuid(), nullable=False),
        sa.Column('basis', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('planned_until', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_diary_plans_participant_id_participants')),
        sa.PrimaryKeyConstraint('participant_id', 'basis', name=op.f('pk_diary_plans')),
    )
    op.create_table(
        'diary_occurrences',
        sa.Column('participant_id', sa.Uuid(), nullable=False),
        sa.Column('basis', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('schedule_id', sa.Uuid(), nullable=False),
        sa.Column('occurrence_key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('local_date', sa.Date(), nullable=False),
        sa.Column('local_time', sa.Time(), nullable=False),
        sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['participant_id', 'basis'], ['diary_plans.participant_id', 'diary_plans.basis'], name=op.f('fk_diary_occurrences_participant_id_basis_diary_plans'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['schedule_id'], ['diary_schedules.id'], name=op.f('fk_diary_occurrences_schedule_id_diary_schedules')),
        sa.PrimaryKeyConstraint('participant_id', 'basis', 'schedule_id', 'occurrence_key', name=op.f('pk_diary_occurrences')),
    )
    op.create_index('ix_diary_occurrences_participant_id_basis_due_at', 'diary_occurrences', ['participant_id', 'basis', 'due_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_diary_occurrences_participant_id_basis_due_at', table_name='diary_occurrences')
    op.drop_table('diary_occurrences')
    op.drop_table('diary_plans')
