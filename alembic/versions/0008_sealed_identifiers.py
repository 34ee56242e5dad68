"""sealed identifiers: screening numbers and device serials encrypted, unique by blind index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

A migration cannot read the key file, so it cannot seal anything itself. It adds the sealed
and index columns and keeps the plaintext of existing rows in `legacy_*` columns; the next
`hearth migrate` or server start (which hold the keys) seals those rows and empties the
plaintext (infra/db/legacy_identifiers.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, plaintext column, its length)
_SEALED = (('participants', 'screening_number', 40), ('devices', 'serial', 100))


def upgrade() -> None:
    for table, column, length in _SEALED:
        op.add_column(table, sa.Column(f'{column}_sealed', sa.LargeBinary(), nullable=True))
        op.add_column(table, sa.Column(f'{column}_index', sa.LargeBinary(), nullable=True))
        op.drop_constraint(f'uq_{table}_study_id_{column}', table, type_='unique')
        op.alter_column(
            table,
            column,
            new_column_name=f'legacy_{column}',
            existing_type=sa.String(length=length),
            nullable=True,
        )
        op.create_unique_constraint(
            op.f(f'uq_{table}_study_id_{column}_index'), table, ['study_id', f'{column}_index']
        )


def downgrade() -> None:
    for table, column, length in _SEALED:
        # Sealed values only open with the keys: a sealed row has no plaintext to go back to.
        op.execute(
            f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM {table} WHERE legacy_{column} IS NULL) THEN "
            f"RAISE EXCEPTION '{table}.{column} is sealed: it cannot be downgraded'; "
            "END IF; END $$"
        )
        op.drop_constraint(op.f(f'uq_{table}_study_id_{column}_index'), table, type_='unique')
        op.alter_column(
            table,
            f'legacy_{column}',
            new_column_name=column,
            existing_type=sa.String(length=length),
            nullable=False,
        )
        op.create_unique_constraint(f'uq_{table}_study_id_{column}', table, ['study_id', column])
        op.drop_column(table, f'{column}_index')
        op.drop_column(table, f'{column}_sealed')
