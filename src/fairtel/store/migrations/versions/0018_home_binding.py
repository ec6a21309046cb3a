"""The database records the home it serves (``home_binding``, one row): the ledger of files and records already
taken lives in the home (``mediation/state.sqlite``), not in the database, so a mistyped or unmounted
``FAIRTEL_HOME`` became a new, empty home on the populated database and took again, and charged again, the files the
real home had billed; two hosts each with a home of its own on one database split and doubled the files alike.
A home is given an id (``<home>/home.id``) and the database the id of its home on first use; a home whose id is
not the database's is refused (``home_mismatch``) unless adopted on purpose (``fairtel home adopt``).

The table starts empty: a database of an earlier version is bound to the first home that opens it after the
upgrade. The downgrade drops the table (the homes keep their ``home.id``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "home_binding",
        sa.Column("slot", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("home_id", sa.String(length=64), nullable=False),
        sa.Column("home_path", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("slot = 1", name=op.f("ck_home_binding_one_row")),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_home_binding")),
    )


def downgrade() -> None:
    op.drop_table("home_binding")
