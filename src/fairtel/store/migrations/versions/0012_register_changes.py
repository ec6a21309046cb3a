"""The register's change log (``register_changes``): for each line, the newest committed change to its row in
``subscribers`` or to its plan history, numbered in commit order (``version``). Online rating keeps the register in
memory and asks which lines changed since the version it read (one indexed look-up when none did) instead of
reading every line's plans and state again each pass. Empty at first: a reader reads the register whole once.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "register_changes",
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("msisdn", name=op.f("pk_register_changes")),
    )
    op.create_index(op.f("ix_register_changes_version"), "register_changes", ["version"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_register_changes_version"), table_name="register_changes")
    op.drop_table("register_changes")
