"""event logs: one per study and one for the installation, sequenced off the request path

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Events become immutable rows holding the canonical JSON the chain hashes (`body`); every
other column is generated from it. Positions and chain hashes move to `audit_chain`, written
by the integrator; `audit_pending` queues what it has not sequenced yet. The single log from
before becomes the "legacy" log: its events keep their positions, hashes and checkpoints, so
it verifies exactly as it did (each body is the canonical record its hash was computed over).
"""

from collections.abc import Sequence
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import rfc8785
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "hearth_app"
LEGACY = "ffffffff-ffff-ffff-ffff-ffffffffffff"
SEQUENCE = "audit_events_ingest_seq"

# The columns the legacy hash covered, in the order they were documented.
LEGACY_COLUMNS = (
    "seq", "id", "recorded_at", "actor_kind", "actor_id", "actor_role", "study_id", "site_id",
    "participant_id", "entity_type", "entity_id", "action", "fields", "reason", "origin",
)
CONTENT_COLUMNS = LEGACY_COLUMNS[1:]


def _t(key: str) -> str:
    return f"(body::jsonb ->> '{key}')"


GENERATED = {
    "log_id": ("uuid NOT NULL", f"COALESCE({_t('log')}::uuid, '{LEGACY}'::uuid)"),
    "id": ("uuid NOT NULL", f"{_t('id')}::uuid"),
    "recorded_at": ("timestamptz NOT NULL", f"hearth_instant({_t('recorded_at')})"),
    "actor_kind": ("varchar(16) NOT NULL", _t("actor_kind")),
    "actor_id": ("uuid", f"{_t('actor_id')}::uuid"),
    "actor_role": ("varchar(16) NOT NULL", _t("actor_role")),
    "study_id": ("uuid", f"{_t('study_id')}::uuid"),
    "site_id": ("uuid", f"{_t('site_id')}::uuid"),
    "participant_id": ("uuid", f"{_t('participant_id')}::uuid"),
    "entity_type": ("varchar(40) NOT NULL", _t("entity_type")),
    "entity_id": ("uuid NOT NULL", f"{_t('entity_id')}::uuid"),
    "action": ("varchar(40) NOT NULL", _t("action")),
    "fields": ("jsonb NOT NULL", "(body::jsonb -> 'fields')"),
    "reason": ("jsonb", "NULLIF((body::jsonb -> 'reason'), 'null'::jsonb)"),
    "origin": ("jsonb NOT NULL", "(body::jsonb -> 'origin')"),
    # Events that commit to personal values (or redact or erase them): what verify opens.
    "personal": (
        "boolean NOT NULL",
        "((body ~~ '%\"personal\"\\:true%') OR (body ~~ '%\"sealed\":\"sha256:%') "
        "OR (body ~~ '%\"action\":\"redacted\"%') OR (body ~~ '%\"action\":\"erased\"%'))",
    ),
}
INDEXES = {
    "ix_audit_events_entity": "(entity_type, entity_id, {order})",
    "ix_audit_events_participant": "(participant_id, {order})",
    "ix_audit_events_study": "(study_id, {order})",
    "ix_audit_events_actor": "(actor_id, {order})",
    "ix_audit_events_recorded_at": "(recorded_at)",
    "ix_audit_events_fields": "USING gin (fields jsonb_path_ops)",
}
NEW_INDEXES = {"ix_audit_events_personal": "(ingest) WHERE personal"}


def upgrade() -> None:
    op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    op.add_column('audit_events', sa.Column('body', sa.Text(), nullable=True))
    _write_legacy_bodies()
    op.create_table('audit_chain',
    sa.Column('log_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('ingest', sa.BigInteger(), nullable=False),
    sa.Column('prev_hash', sa.LargeBinary(), nullable=False),
    sa.Column('hash', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('log_id', 'seq', name=op.f('pk_audit_chain')),
    sa.UniqueConstraint('ingest', name=op.f('uq_audit_chain_ingest'))
    )
    op.execute(
        f"INSERT INTO audit_chain (log_id, seq, ingest, prev_hash, hash) "
        f"SELECT '{LEGACY}', seq, seq, prev_hash, hash FROM audit_events"
    )
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
    op.execute(
        "ALTER TABLE audit_events "
        + ", ".join(f"DROP COLUMN {c}" for c in (*CONTENT_COLUMNS, "prev_hash", "hash"))
    )
    op.alter_column('audit_events', 'seq', new_column_name='ingest')
    op.alter_column('audit_events', 'body', nullable=False)
    op.execute(f"CREATE SEQUENCE {SEQUENCE} AS bigint OWNED BY audit_events.ingest")
    op.execute(
        f"SELECT setval('{SEQUENCE}', COALESCE(max(ingest), 0) + 1, false) FROM audit_events"
    )
    op.execute(f"ALTER TABLE audit_events ALTER COLUMN ingest SET DEFAULT nextval('{SEQUENCE}'::regclass)")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {SEQUENCE} TO {APP_ROLE}")
    # Immutable, and the text forms used are fixed ISO 8601 with an offset, whatever TimeZone says.
    op.execute(
        "CREATE FUNCTION hearth_instant(text) RETURNS timestamptz LANGUAGE sql IMMUTABLE STRICT "
        "PARALLEL SAFE AS $$ SELECT $1::timestamptz $$"
    )
    op.execute(
        "ALTER TABLE audit_events "
        + ", ".join(
            f"ADD COLUMN {name} {kind.split(' NOT NULL')[0]} GENERATED ALWAYS AS ({expr}) STORED"
            + (" NOT NULL" if "NOT NULL" in kind else "")
            for name, (kind, expr) in GENERATED.items()
        )
    )
    op.create_unique_constraint(op.f('uq_audit_events_id'), 'audit_events', ['id'])
    for name, columns in (INDEXES | NEW_INDEXES).items():
        op.execute(f"CREATE INDEX {name} ON audit_events {columns.format(order='ingest')}")
    op.create_foreign_key(
        op.f('fk_audit_chain_ingest_audit_events'), 'audit_chain', 'audit_events', ['ingest'], ['ingest']
    )
    op.create_table('audit_pending',
    sa.Column('ingest', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['ingest'], ['audit_events.ingest'], name=op.f('fk_audit_pending_ingest_audit_events')),
    sa.PrimaryKeyConstraint('ingest', name=op.f('pk_audit_pending'))
    )
    for table in ("audit_events", "audit_chain"):
        _append_only(table)
    _checkpoints_per_log()
    _installation()


def _append_only(table: str) -> None:
    """History is never rewritten: no privilege for the app, and a trigger for everyone else."""
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {APP_ROLE}")
    op.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION hearth_forbid_rewrite()"
    )


def _checkpoints_per_log() -> None:
    op.add_column('audit_checkpoints', sa.Column('log_id', sa.Uuid(), nullable=False, server_default=LEGACY))
    op.alter_column('audit_checkpoints', 'log_id', server_default=None)
    op.add_column('audit_checkpoints', sa.Column('note', sa.Text(), nullable=True))
    op.drop_constraint('pk_audit_checkpoints', 'audit_checkpoints', type_='primary')
    op.create_primary_key('pk_audit_checkpoints', 'audit_checkpoints', ['log_id', 'tree_size'])


def _installation() -> None:
    op.create_table('installation',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installation'))
    )
    op.create_table('installation_keys',
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('purpose', name=op.f('pk_installation_keys'))
    )
    op.execute("INSERT INTO installation (id, created_at) VALUES (gen_random_uuid(), now())")
    # The identity and the key fingerprints are written once; the server may only read them.
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON installation, installation_keys FROM {APP_ROLE}")
    op.execute(f"REVOKE INSERT ON installation FROM {APP_ROLE}")


# The legacy canonical record, exactly as the single log hashed it -------------------------

_MAX_SAFE_INTEGER = 2**53 - 1


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def _plain_json(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.isascii() or not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, int):
        return -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain_json(v) for k, v in value.items())
    return False


def _canonical(record: dict[str, Any]) -> str:
    if _plain_json(record):
        return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return bytes(rfc8785.dumps(record)).decode()


def _write_legacy_bodies() -> None:
    connection = op.get_bind()
    columns = ", ".join(LEGACY_COLUMNS)
    after = 0
    while True:
        rows = connection.execute(
            sa.text(f"SELECT {columns} FROM audit_events WHERE seq > :after ORDER BY seq LIMIT 5000"),
            {"after": after},
        ).mappings().all()
        if not rows:
            return
        connection.execute(
            sa.text("UPDATE audit_events SET body = :body WHERE seq = :seq"),
            [
                {"seq": row["seq"], "body": _canonical({c: _plain(row[c]) for c in LEGACY_COLUMNS})}
                for row in rows
            ],
        )
        after = rows[-1]["seq"]


# Back to one log: possible only while every event is still in the legacy log --------------


def downgrade() -> None:
    connection = op.get_bind()
    newer = connection.execute(
        sa.text(
            f"SELECT (SELECT count(*) FROM audit_events WHERE log_id <> '{LEGACY}') "
            "+ (SELECT count(*) FROM audit_pending)"
        )
    ).scalar_one()
    if newer:
        raise RuntimeError(
            "Cannot downgrade: events have been written to per-study logs since 0010."
        )
    op.drop_table('installation_keys')
    op.drop_table('installation')
    op.drop_constraint('pk_audit_checkpoints', 'audit_checkpoints', type_='primary')
    op.drop_column('audit_checkpoints', 'note')
    op.drop_column('audit_checkpoints', 'log_id')
    op.create_primary_key('pk_audit_checkpoints', 'audit_checkpoints', ['tree_size'])
    for table in ("audit_events", "audit_chain"):
        op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
    op.drop_table('audit_pending')
    for name in (*INDEXES, *NEW_INDEXES):
        op.execute(f"DROP INDEX {name}")
    op.drop_constraint(op.f('uq_audit_events_id'), 'audit_events', type_='unique')
    op.execute(
        "ALTER TABLE audit_events "
        + ", ".join(f"ALTER COLUMN {c} DROP EXPRESSION" for c in CONTENT_COLUMNS)
        + ", DROP COLUMN log_id, DROP COLUMN personal"
    )
    op.add_column('audit_events', sa.Column('prev_hash', sa.LargeBinary(), nullable=True))
    op.add_column('audit_events', sa.Column('hash', sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE audit_events e SET prev_hash = c.prev_hash, hash = c.hash "
        "FROM audit_chain c WHERE c.ingest = e.ingest"
    )
    op.drop_table('audit_chain')
    op.execute("ALTER TABLE audit_events ALTER COLUMN ingest DROP DEFAULT")
    op.execute(f"DROP SEQUENCE {SEQUENCE}")
    op.alter_column('audit_events', 'ingest', new_column_name='seq')
    op.drop_column('audit_events', 'body')
    op.execute("DROP FUNCTION hearth_instant(text)")
    op.alter_column('audit_events', 'prev_hash', nullable=False)
    op.alter_column('audit_events', 'hash', nullable=False)
    op.create_unique_constraint(op.f('uq_audit_events_id'), 'audit_events', ['id'])
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON audit_events {columns.format(order='seq')}")
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION hearth_forbid_rewrite()"
    )
