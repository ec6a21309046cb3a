"""Subscribers: an index on (``status``, ``pseudonym_order``), for the subscriber list filtered by status. The list
is read in its keyed order (``pseudonym_order``, 0013) a page at a time; filtered by a status few lines have (or
none), the order's own index was walked over the whole register to find a page of them (0.6 s at 200,000 lines
for a status no line has). With this index a page is read from the status's own range of the keyed order.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-09
"""

from __future__ import annotations

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | None = None
depends_on: str | None = None

INDEX = "ix_subscribers_status_pseudonym_order"


def upgrade() -> None:
    op.create_index(INDEX, "subscribers", ["status", "pseudonym_order"], unique=False)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="subscribers")
