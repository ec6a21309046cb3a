"""Subscribers: since when a suspended line is suspended (``suspended_at``), so that the consent gate refuses
value-added charges made while it is, and only those. Lines suspended before this revision have none (their
charges are not checked against the suspension, as before).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("suspended_at")
