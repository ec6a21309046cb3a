"""The access audit becomes append-only in the database itself: a trigger refuses every UPDATE and DELETE of
``access_audit`` rows (SQLite and PostgreSQL), so that nobody using the application's database account can
rewrite who looked at whose data; removing the trigger is a schema change of its own, not an edit of a row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_MESSAGE = "access_audit is append-only"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION access_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END $$""")
        op.execute("""
            CREATE TRIGGER access_audit_append_only BEFORE UPDATE OR DELETE ON access_audit
            FOR EACH ROW EXECUTE FUNCTION access_audit_append_only()""")
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER access_audit_no_{event.lower()} BEFORE {event} ON access_audit
            BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER access_audit_append_only ON access_audit")
        op.execute("DROP FUNCTION access_audit_append_only()")
        return
    for event in ("update", "delete"):
        op.execute(f"DROP TRIGGER access_audit_no_{event}")
