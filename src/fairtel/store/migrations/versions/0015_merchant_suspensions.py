"""Value-added providers' billing rights suspended durably (``merchant_suspensions``: who, when, why; lifted later),
instead of for one ``fairtel assure --suspend`` run only: rating's consent gate refuses the provider's charges
dated while it is suspended, and assurance reports them. Append-only: each suspension and each lift is an entry.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "merchant_suspensions",
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("action IN ('suspend', 'lift')", name=op.f("ck_merchant_suspensions_action")),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_merchant_suspensions")),
    )
    op.create_index(
        "ix_merchant_suspensions_provider_id_at", "merchant_suspensions", ["provider_id", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_merchant_suspensions_provider_id_at", table_name="merchant_suspensions")
    op.drop_table("merchant_suspensions")
