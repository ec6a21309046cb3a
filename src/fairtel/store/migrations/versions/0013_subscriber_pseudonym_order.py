"""Subscribers: each line's place in the subscriber list's keyed order (``pseudonym_order``, indexed), so that a
page of the list is read from the index instead of every line's keyed digest being computed and sorted on each
page. The key is derived from the operator's secret, which the database does not hold, and apart from the key the
pseudonyms are cut from: the stored places reveal neither the numbers' order nor any pseudonym. Lines have none
after this revision; the server makes them when it starts, ``fairtel load`` after an import, and the list for
the lines it meets without one (and again for every line when the secret is replaced).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("pseudonym_order", sa.LargeBinary(length=20), nullable=True))
    op.create_index(op.f("ix_subscribers_pseudonym_order"), "subscribers", ["pseudonym_order"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_subscribers_pseudonym_order"), table_name="subscribers")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("subscribers", "pseudonym_order")
    elif sqlite3.sqlite_version_info >= (3, 35):
        # in place: a batch copy of the table would drop it, which the foreign keys of subscriber_plans (0010) refuse
        op.execute("ALTER TABLE subscribers DROP COLUMN pseudonym_order")
    else:  # pragma: no cover - SQLite before 3.35 (2021) has no DROP COLUMN
        with op.batch_alter_table("subscribers") as batch:
            batch.drop_column("pseudonym_order")
