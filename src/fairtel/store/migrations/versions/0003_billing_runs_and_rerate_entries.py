"""Billing: the run and plan of each bill, adjustments carried into bill lines (at most once), rerate entries
naming the record, rule and amounts they correct.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("bills", sa.Column("run_id", sa.String(length=40), nullable=True))
    op.add_column("bills", sa.Column("plan_id", sa.String(length=64), nullable=True))
    op.create_index("ix_bills_period", "bills", ["period"], unique=False)

    op.add_column("adjustments", sa.Column("period", sa.String(length=7), nullable=True))
    op.add_column("adjustments", sa.Column("source", sa.String(length=255), nullable=True))
    op.add_column("adjustments", sa.Column("record_id", sa.String(length=255), nullable=True))
    op.add_column("adjustments", sa.Column("rule_id", sa.String(length=128), nullable=True))
    op.add_column("adjustments", sa.Column("old_amount_minor", sa.BigInteger(), nullable=True))
    op.add_column("adjustments", sa.Column("new_amount_minor", sa.BigInteger(), nullable=True))
    op.create_index("ix_adjustments_period_record", "adjustments", ["period", "record_id"], unique=False)

    # SQLite cannot add a foreign key to an existing table: batch mode rebuilds it there (a plain ALTER elsewhere).
    with op.batch_alter_table("bill_lines") as batch:
        batch.add_column(sa.Column("allowance_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("adjustment_id", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_bill_lines_adjustment_id_adjustments"), "adjustments", ["adjustment_id"], ["adjustment_id"]
        )
    op.create_index("uq_bill_lines_adjustment_id", "bill_lines", ["adjustment_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_bill_lines_adjustment_id", table_name="bill_lines")
    with op.batch_alter_table("bill_lines") as batch:
        batch.drop_constraint(op.f("fk_bill_lines_adjustment_id_adjustments"), type_="foreignkey")
        batch.drop_column("adjustment_id")
        batch.drop_column("allowance_id")

    op.drop_index("ix_adjustments_period_record", table_name="adjustments")
    for column in ("new_amount_minor", "old_amount_minor", "rule_id", "record_id", "source", "period"):
        op.drop_column("adjustments", column)

    op.drop_index("ix_bills_period", table_name="bills")
    op.drop_column("bills", "plan_id")
    op.drop_column("bills", "run_id")
