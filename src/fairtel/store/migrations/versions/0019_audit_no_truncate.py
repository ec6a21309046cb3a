"""The access audit cannot be emptied at once either: on PostgreSQL a statement trigger refuses ``TRUNCATE
access_audit``, which fires no row trigger and so went past the ones refusing UPDATE and DELETE (0005), and
emptied the audit with one statement of the application's database account. SQLite has no TRUNCATE: its
``DELETE FROM access_audit`` without a condition fires the row triggers of 0005 and is refused already.

The access audit is the one table the database itself keeps append-only; the other ledgers (consent events,
adjustments, loyalty points, line status and plan history) are append-only by the code that writes them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # the function of 0005 raises the same refusal ("access_audit is append-only"); a statement trigger calls it
    # once for the TRUNCATE, of this table alone or named with others
    op.execute("""
        CREATE TRIGGER access_audit_no_truncate BEFORE TRUNCATE ON access_audit
        FOR EACH STATEMENT EXECUTE FUNCTION access_audit_append_only()""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER access_audit_no_truncate ON access_audit")
