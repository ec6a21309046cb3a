"""Agent assignments (who handles which customer's case, until when) and subscribers' roaming caps.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "agent_assignments",
        sa.Column("assignment_id", sa.String(length=40), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("reference_kind", sa.String(length=16), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "reference_kind IN ('complaint', 'ticket', 'chat')", name=op.f("ck_agent_assignments_reference_kind")
        ),
        sa.PrimaryKeyConstraint("assignment_id", name=op.f("pk_agent_assignments")),
    )
    op.create_index("ix_agent_assignments_agent_msisdn", "agent_assignments", ["agent", "msisdn"], unique=False)

    op.create_table(
        "roaming_caps",
        sa.Column("cap_id", sa.String(length=40), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.CHAR(length=3), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("(amount_minor IS NULL) = (currency IS NULL)", name=op.f("ck_roaming_caps_money_pair")),
        sa.PrimaryKeyConstraint("cap_id", name=op.f("pk_roaming_caps")),
    )
    op.create_index(op.f("ix_roaming_caps_msisdn"), "roaming_caps", ["msisdn"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_roaming_caps_msisdn"), table_name="roaming_caps")
    op.drop_table("roaming_caps")
    op.drop_index("ix_agent_assignments_agent_msisdn", table_name="agent_assignments")
    op.drop_table("agent_assignments")
