"""Line status history: why a line was suspended (``reason``: ``requested`` by its subscriber, keeping the number,
停机保号; ``arrears``, 欠费停机; ``fraud``, a confirmed case's decision), so that a plan's suspension policy charges a
keep-number fee instead of the plan fee for the days of a requested suspension. NULL: not said, as every row of an
earlier version: such a suspension owes the plan fee, as before.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("line_status_history", sa.Column("reason", sa.String(16), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("line_status_history", "reason")
    elif sqlite3.sqlite_version_info >= (3, 35):
        op.execute("ALTER TABLE line_status_history DROP COLUMN reason")
    else:  # pragma: no cover - SQLite before 3.35 (2021) has no DROP COLUMN
        with op.batch_alter_table("line_status_history") as batch:
            batch.drop_column("reason")
