"""alerts: coordinator alert rules and alerts; the site's contact; participants' data downloads

Revision ID: 0017_alerts
Revises: 0016_clinical
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0017_alerts"
down_revision: str | None = "0016_clinical"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('sites', sa.Column('contact', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
    op.create_table(
        'alert_rules',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('study_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('email', sa.Boolean(), nullable=False),
        sa.Column('missed', sa.Integer(), nullable=True),
        sa.Column('reading_kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('low', sa.Numeric(precision=18, scale=3), nullable=True),
        sa.Column('high', sa.Numeric(precision=18, scale=3), nullable=True),
        sa.Column('wait_hours', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_alert_rules_study_id_studies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rules')),
    )
    op.create_index(op.f('ix_alert_rules_study_id'), 'alert_rules', ['study_id'], unique=False)
    op.create_table(
        'alerts',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('study_id', sa.Uuid(), nullable=False),
        sa.Column('site_id', sa.Uuid(), nullable=False),
        sa.Column('participant_id', sa.Uuid(), nullable=False),
        sa.Column('rule_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('cause', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('record_id', sa.Uuid(), nullable=True),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_by', sa.Uuid(), nullable=True),
        sa.Column('note_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('mail_pending', sa.Boolean(), nullable=False),
        sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_alerts_participant_id_participants')),
        sa.ForeignKeyConstraint(['rule_id'], ['alert_rules.id'], name=op.f('fk_alerts_rule_id_alert_rules')),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_alerts_site_id_sites')),
        sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_alerts_study_id_studies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
        sa.UniqueConstraint('rule_id', 'cause', name=op.f('uq_alerts_rule_id_cause')),
    )
    op.create_index('ix_alerts_site', 'alerts', ['site_id', 'raised_at'], unique=False)
    op.create_table(
        'data_downloads',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('participant_id', sa.Uuid(), nullable=False),
        sa.Column('study_id', sa.Uuid(), nullable=False),
        sa.Column('site_id', sa.Uuid(), nullable=False),
        sa.Column('token_digest', sa.LargeBinary(), nullable=False),
        sa.Column('requested_by', sa.Uuid(), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('archive_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_data_downloads_participant_id_participants')),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_data_downloads_site_id_sites')),
        sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_data_downloads_study_id_studies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_data_downloads')),
        sa.UniqueConstraint('token_digest', name=op.f('uq_data_downloads_token_digest')),
    )
    op.create_index(op.f('ix_data_downloads_participant_id'), 'data_downloads', ['participant_id'], unique=False)
    op.create_index('ix_alerts_unmailed', 'alerts', ['site_id'], unique=False, postgresql_where=sa.text('mail_pending'))


def downgrade() -> None:
    op.drop_index(op.f('ix_data_downloads_participant_id'), table_name='data_downloads')
    op.drop_table('data_downloads')
    op.drop_index('ix_alerts_unmailed', table_name='alerts', postgresql_where=sa.text('mail_pending'))
    op.drop_index('ix_alerts_site', table_name='alerts')
    op.drop_table('alerts')
    op.drop_index(op.f('ix_alert_rules_study_id'), table_name='alert_rules')
    op.drop_table('alert_rules')
    op.drop_column('sites', 'contact')
