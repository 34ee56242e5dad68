"""job queue: procrastinate's schema; export jobs queued, retried, cancelled and expired

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401 - kept like every migration of this project
from alembic import op
from sqlalchemy.util import await_

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# procrastinate 3.10.0's schema.sql, as shipped, frozen beside this file: this migration
# always builds the same schema. A procrastinate upgrade that changes its schema comes with
# a new migration applying that release's files from procrastinate/sql/migrations
# (tests/db/test_migrations.py notices when one is needed).
PROCRASTINATE_SCHEMA = Path(__file__).with_name("0009_procrastinate_3.10.0.sql")
APP_ROLE = "hearth_app"
TABLES = ("procrastinate_jobs", "procrastinate_workers", "procrastinate_events",
          "procrastinate_periodic_defers")


def upgrade() -> None:
    _run_script(PROCRASTINATE_SCHEMA.read_text(encoding="utf-8"))
    tables = ", ".join(TABLES)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    op.add_column('export_jobs', sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
    op.alter_column('export_jobs', 'attempts', server_default=None)
    op.add_column('export_jobs', sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('export_jobs', sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('export_jobs', sa.Column('files_removed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_export_jobs_files_kept', 'export_jobs', ['finished_at'], unique=False,
                    postgresql_where=sa.text("status = 'DONE' AND files_removed_at IS NULL"))
    # Exports the old in-process runner left running would never finish: queue them for the
    # worker, so nothing requested is lost by the upgrade.
    op.execute(
        """
        SELECT procrastinate_defer_jobs_v1(ARRAY(
            SELECT ROW('exports', 'exports.run', 0, 'export:' || id, NULL,
                       jsonb_build_object('export_id', id::text), NULL
                   )::procrastinate_job_to_defer_v1
            FROM export_jobs WHERE status = 'RUNNING'
        ))
        """
    )
    op.execute("UPDATE export_jobs SET status = 'QUEUED' WHERE status = 'RUNNING'")


def downgrade() -> None:
    op.execute(
        "UPDATE export_jobs SET status = 'FAILED', finished_at = coalesce(finished_at, now()), "
        "error = 'Stopped by a downgrade; start it again.' "
        "WHERE status IN ('QUEUED', 'RUNNING', 'CANCELLED')"
    )
    op.drop_index('ix_export_jobs_files_kept', table_name='export_jobs',
                  postgresql_where=sa.text("status = 'DONE' AND files_removed_at IS NULL"))
    op.drop_column('export_jobs', 'files_removed_at')
    op.drop_column('export_jobs', 'retry_at')
    op.drop_column('export_jobs', 'started_at')
    op.drop_column('export_jobs', 'attempts')
    _run_script(
        f"""
        DROP TABLE {", ".join(TABLES)} CASCADE;
        DO $$ DECLARE f regprocedure; BEGIN
            FOR f IN SELECT oid::regprocedure FROM pg_proc
                     WHERE proname LIKE 'procrastinate\\_%' AND pronamespace = 'public'::regnamespace
            LOOP EXECUTE 'DROP FUNCTION ' || f; END LOOP;
        END $$;
        DROP TYPE procrastinate_job_to_defer_v1, procrastinate_job_event_type,
                  procrastinate_job_status;
        """
    )


def _run_script(sql: str) -> None:
    """Several statements at once: asyncpg runs a script only outside prepared statements,
    so it goes to the driver's connection directly (in the migration's transaction)."""
    driver = op.get_bind().connection.driver_connection
    await_(driver.execute(sql))
