"""The ledgers become append-only in the database itself, as the access audit is (0005, 0019): triggers refuse the
UPDATE and DELETE of their rows (SQLite and PostgreSQL) and, on PostgreSQL, a TRUNCATE of them, so that nobody
using the application's database account rewrites a line's adjustments, loyalty points, plan or status history,
a complaint's history, a provider's suspensions, a roaming cap or a marketing say that was in force.

Two ledgers have one path of fairtel's own that changes them, which is left open:

- ``consent_events``: retention (``fairtel retention apply``) deletes the events of subscriptions ended past the
  consent horizon; UPDATE and TRUNCATE are refused, DELETE is not.
- ``ticket_notes``: retention clears the agents' words of closed tickets (``note`` set to NULL); DELETE and
  TRUNCATE are refused, UPDATE is not.

Every other write of these tables is an INSERT (``ON CONFLICT DO NOTHING`` fires no UPDATE trigger). SQLite has no
TRUNCATE: its ``DELETE FROM`` without a condition fires the row triggers. A later migration that rebuilds one of
these tables on SQLite (a batch ``ALTER``) makes its triggers again. The downgrade drops them.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | None = None
depends_on: str | None = None

# each table and the statements refused on it (PostgreSQL refuses TRUNCATE of every one of them)
GUARDED: dict[str, tuple[str, ...]] = {
    "adjustments": ("UPDATE", "DELETE"),
    "loyalty_points": ("UPDATE", "DELETE"),
    "subscriber_plans": ("UPDATE", "DELETE"),
    "line_status_history": ("UPDATE", "DELETE"),
    "complaint_events": ("UPDATE", "DELETE"),
    "merchant_suspensions": ("UPDATE", "DELETE"),
    "roaming_caps": ("UPDATE", "DELETE"),
    "marketing_preferences": ("UPDATE", "DELETE"),
    "consent_events": ("UPDATE",),  # retention deletes ended subscriptions' events
    "ticket_notes": ("DELETE",),  # retention clears the notes of closed tickets
}
_FUNCTION = "ledger_append_only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # the table's name in the refusal, as the audit's says it ("<table> is append-only"); an integrity error
        # (restrict_violation), not a privilege one, which says the database cannot be used at all
        op.execute(f"""
            CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
            END $$""")
        for table, events in GUARDED.items():
            op.execute(f"""
                CREATE TRIGGER {table}_append_only BEFORE {' OR '.join(events)} ON {table}
                FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()""")
            op.execute(f"""
                CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()""")
        return
    for table, events in GUARDED.items():
        for event in events:
            op.execute(f"""
                CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in GUARDED:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION {_FUNCTION}()")
        return
    for table, events in GUARDED.items():
        for event in events:
            op.execute(f"DROP TRIGGER {table}_no_{event.lower()}")
