"""Subscribers' plan history (``subscriber_plans``): a plan change takes effect from the start of the next billing
period (or from the period the register file names), so that a period is rated and billed under the plan the line
was on then, not under the one it moved to since. Each line of the register is backfilled with one row: its
current plan, in force since its activation, recorded when the register last changed it (``updated_at``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "subscriber_plans",
        sa.Column("plan_change_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["msisdn"], ["subscribers.msisdn"], name=op.f("fk_subscriber_plans_msisdn_subscribers")),
        sa.PrimaryKeyConstraint("plan_change_id", name=op.f("pk_subscriber_plans")),
    )
    op.create_index("ix_subscriber_plans_msisdn_effective_from", "subscriber_plans", ["msisdn", "effective_from"],
                    unique=False)
    # what the register knew until now: each line on its current plan since it was activated (the timestamps are
    # copied as stored, so both databases keep their own representation of them)
    op.execute(
        "INSERT INTO subscriber_plans (msisdn, plan_id, effective_from, recorded_at) "
        "SELECT msisdn, plan_id, activated_at, updated_at FROM subscribers ORDER BY msisdn"
    )


def downgrade() -> None:
    op.drop_index("ix_subscriber_plans_msisdn_effective_from", table_name="subscriber_plans")
    op.drop_table("subscriber_plans")
