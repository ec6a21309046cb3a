"""Complaint events keep the deadlines of their terms: an opening or a reopening records the resolution deadline
it set (``due_at``), and a reopening the deadline and escalation level it replaced (``previous_due_at``,
``previous_escalation_level``), so that a reopened complaint is due from its reopening while its history keeps
each earlier term's deadline. Events recorded before this revision have none: readers infer them (an opening's
from the reopening after it, else the complaint's deadline in force), and their notes are left as written.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("complaint_events", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("complaint_events", sa.Column("previous_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("complaint_events", sa.Column("previous_escalation_level", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("complaint_events") as batch:
        batch.drop_column("previous_escalation_level")
        batch.drop_column("previous_due_at")
        batch.drop_column("due_at")
