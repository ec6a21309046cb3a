"""Each line's status through time (``line_status_history``, append-only): the register keeps only a line's current
state, so once a suspended line was brought back into service nothing remembered that it had been suspended, and its
usage made during the suspension, rated later (a late switch file, roaming records days later) or rated again, was
billed as usual. Every change of a line's status is now a row (status, from when, when learnt, by what); rating
holds the usage dated inside a suspension that ended.

Backfilled from the register: each line active from its activation, then a suspended line suspended from its
``suspended_at`` (from when the register last changed it, when it does not say) and a closed line closed from its
``closed_at`` (likewise), recorded when the register last changed the line (``updated_at``). The timestamps are
copied as stored, so both databases keep their own representation of them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "line_status_history",
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.CheckConstraint("status IN ('active', 'suspended', 'closed')", name=op.f("ck_line_status_history_status")),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_line_status_history")),
    )
    op.create_index("ix_line_status_history_msisdn_since", "line_status_history", ["msisdn", "since"], unique=False)
    insert = "INSERT INTO line_status_history (msisdn, status, since, recorded_at, source) "
    op.execute(
        insert + "SELECT msisdn, 'active', activated_at, updated_at, 'backfill' FROM subscribers ORDER BY msisdn"
    )
    for status, column in (("suspended", "suspended_at"), ("closed", "closed_at")):
        op.execute(
            insert + f"SELECT msisdn, '{status}', COALESCE({column}, updated_at), updated_at, 'backfill' "
            f"FROM subscribers WHERE status = '{status}' ORDER BY msisdn"
        )


def downgrade() -> None:
    op.drop_index("ix_line_status_history_msisdn_since", table_name="line_status_history")
    op.drop_table("line_status_history")
