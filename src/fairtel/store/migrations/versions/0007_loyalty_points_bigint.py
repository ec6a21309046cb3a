"""Loyalty ledger: ``points`` is a 64-bit integer. It was ``INTEGER``, 32 bits on PostgreSQL, so an entry
moving a balance past 2^31 points failed there (SQLite's integers were 64-bit already). Widening keeps
every stored value.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_points") as batch:
        batch.alter_column("points", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    # Narrowing fails on PostgreSQL if an entry no longer fits in 32 bits: such a ledger cannot go back.
    with op.batch_alter_table("loyalty_points") as batch:
        batch.alter_column("points", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
