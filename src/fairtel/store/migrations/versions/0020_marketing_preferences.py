"""A subscriber may refuse marketing based on automated profiling (PIPL Art. 24): ``marketing_preferences`` keeps
each line's say, one row per change (append-only: the latest row, by ``changed_at`` then ``pref_id``, is in force;
a line without a row has not refused). The retention list leaves out the lines whose latest row refuses.

``source`` says who recorded the change (the subscriber themselves, or an agent on their behalf), ``channel`` how
the subscriber asked, ``changed_by`` the login that recorded it (as the audit names it). The changes are in the
access audit as well (``marketing.set``).

The table starts empty: every line of an earlier version has not refused. The downgrade drops it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "marketing_preferences",
        sa.Column("pref_id", sa.String(length=40), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("channel IN ('api', 'web', 'app', 'phone', 'store', 'sms', 'letter')",
                           name=op.f("ck_marketing_preferences_channel")),
        sa.CheckConstraint("source IN ('subscriber', 'agent')", name=op.f("ck_marketing_preferences_source")),
        sa.PrimaryKeyConstraint("pref_id", name=op.f("pk_marketing_preferences")),
    )
    op.create_index("ix_marketing_preferences_msisdn_changed_at", "marketing_preferences", ["msisdn", "changed_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_marketing_preferences_msisdn_changed_at", table_name="marketing_preferences")
    op.drop_table("marketing_preferences")
