"""Subscribers: since when the current customer holds the line (``holder_since``), when that is later than its
``activated_at``: a line moved to another customer (an owner change, its number kept in service and its
``activated_at`` unchanged) is the new customer's from then on, and what a subscriber reads of it (bills, usage,
a roaming cap, points, the access log, a data export) and what a bill carries are bounded by it. NULL: the
customer has held the line since its activation, as every line of an earlier version has (an owner change made
before this revision is not dated).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("holder_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("subscribers", "holder_since")
    elif sqlite3.sqlite_version_info >= (3, 35):
        # in place: a batch copy of the table would drop it, which the foreign keys of subscriber_plans (0010) refuse
        op.execute("ALTER TABLE subscribers DROP COLUMN holder_since")
    else:  # pragma: no cover - SQLite before 3.35 (2021) has no DROP COLUMN
        with op.batch_alter_table("subscribers") as batch:
            batch.drop_column("holder_since")
