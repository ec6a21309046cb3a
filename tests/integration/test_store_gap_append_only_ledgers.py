"""The ledgers are append-only in the database, not only in the code that writes them (migration 0021): an UPDATE or
DELETE of a row through SQL is refused on SQLite and PostgreSQL, a TRUNCATE on PostgreSQL; the one change fairtel
makes itself to two of them (retention deleting consent events, clearing ticket notes) still goes through, and the
downgrade of 0021 lifts the refusals."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from fairtel.store import current_revision, head_revision, metadata
from fairtel.store._migrate import alembic_config

T = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)
LINE = "8613800138000"
GUARDED: dict[str, tuple[str, ...]] = importlib.import_module(
    "fairtel.store.migrations.versions.0021_append_only_ledgers").GUARDED

# one row of each ledger, and a column an UPDATE would rewrite
ROWS: dict[str, tuple[dict[str, Any], str, Any]] = {
    "adjustments": ({"adjustment_id": "adj-1", "kind": "refund", "msisdn": LINE, "amount_minor": 600, "currency": "CNY",
                     "reason": "unconsented VAS", "created_at": T, "created_by": "agent-7"}, "amount_minor", 6),
    "loyalty_points": ({"entry_id": "lp-1", "msisdn": LINE, "kind": "earn", "points": 120, "reason": "bill 2026-09",
                        "booked_at": T}, "points", 999999),
    "subscriber_plans": ({"msisdn": LINE, "plan_id": "basic-38", "effective_from": T, "recorded_at": T},
                         "plan_id", "premium-128"),
    "line_status_history": ({"msisdn": LINE, "status": "suspended", "since": T, "recorded_at": T,
                             "source": "line_suspend"}, "status", "active"),
    "complaint_events": ({"complaint_id": "cmp-1", "seq": 1, "kind": "status", "status": "opened", "at": T,
                          "actor": "agent-7"}, "status", "closed"),
    "merchant_suspensions": ({"provider_id": "sp-x", "action": "suspend", "at": T, "actor": "ops1"}, "action", "lift"),
    "roaming_caps": ({"cap_id": "cap-1", "msisdn": LINE, "amount_minor": 5000, "currency": "CNY", "set_at": T,
                      "set_by": "subscriber"}, "amount_minor", None),
    "marketing_preferences": ({"pref_id": "mp-1", "msisdn": LINE, "opted_out": True, "changed_at": T, "channel": "app",
                               "source": "subscriber", "changed_by": "u-1"}, "opted_out", False),
    "consent_events": ({"event_id": "ce-1", "subscription_id": "sub-1", "msisdn": LINE, "offer_id": "vas-news",
                        "event": "ordered", "at": T, "channel": "sms", "evidence": None, "recorded_at": T,
                        "source": "consent.csv"}, "event", "cancelled"),
    "ticket_notes": ({"ticket_id": "tt-1", "noted_at": T, "author": "agent-7", "status": "closed",
                      "note": "customer's address"}, "note", None),
}


def _seed(engine: Engine) -> None:
    """One row in every ledger, with the rows they refer to."""
    t = metadata.tables
    with engine.begin() as conn:
        conn.execute(t["customers"].insert().values(customer_id="cu-1", created_at=T))
        conn.execute(t["subscribers"].insert().values(msisdn=LINE, customer_id="cu-1", plan_id="basic-38",
                                                      activated_at=T, status="active", language="zh", updated_at=T))
        conn.execute(t["complaints"].insert().values(complaint_id="cmp-1", msisdn=LINE, category="unexplained_charge",
                                                     opened_at=T, status="open", channel="app", text="extra charge"))
        conn.execute(t["trouble_tickets"].insert().values(ticket_id="tt-1", msisdn=LINE, category="no_signal",
                                                          priority=2, status="closed", opened_at=T, summary="no signal"))
        for table, (row, _, _) in ROWS.items():
            conn.execute(t[table].insert().values(**row))


def _rows(conn: Connection, table: str) -> int:
    return int(conn.scalar(select(func.count()).select_from(metadata.tables[table])) or 0)


def test_every_ledger_of_the_schema_is_seeded() -> None:
    assert set(ROWS) == set(GUARDED)


@pytest.mark.parametrize("table", sorted(GUARDED))
def test_the_database_refuses_to_rewrite_or_remove_ledger_rows(engine: Engine, table: str) -> None:
    _seed(engine)
    t = metadata.tables[table]
    row, column, other = ROWS[table]
    refused = GUARDED[table]
    statements = []
    if "UPDATE" in refused:
        statements += [t.update().values({column: other}), t.update().where(t.c[column] == row[column])
                       .values({column: other})]
    if "DELETE" in refused:
        statements += [t.delete(), t.delete().where(t.c[column] == row[column])]
    assert statements
    for statement in statements:
        with pytest.raises(DBAPIError, match=f"{table} is append-only"), engine.begin() as conn:
            conn.execute(statement)
    with engine.connect() as conn:
        assert _rows(conn, table) == 1
        assert conn.scalar(select(t.c[column])) == row[column]


@pytest.mark.postgres
def test_truncate_of_a_ledger_is_refused_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    _seed(engine)
    for table in GUARDED:
        for statement in (f"TRUNCATE {table} CASCADE", f"TRUNCATE revoked_tokens, {table} CASCADE"):
            with pytest.raises(DBAPIError, match="is append-only"), engine.begin() as conn:
                conn.execute(text(statement))
    with engine.connect() as conn:
        assert all(_rows(conn, table) == 1 for table in GUARDED)
    with engine.begin() as conn:  # other tables are truncated as before
        conn.execute(text("TRUNCATE revoked_tokens"))


def test_what_retention_changes_goes_through(engine: Engine) -> None:
    """Retention deletes the consent events of ended subscriptions and clears the notes of closed tickets: the
    two changes fairtel makes itself to a ledger."""
    from fairtel.store._retention import RetentionPlan, apply_in_database

    _seed(engine)
    plan = RetentionPlan.__new__(RetentionPlan)
    object.__setattr__(plan, "consent", {"sub-1": T})
    object.__setattr__(plan, "tickets", {"tt-1": T})
    with engine.begin() as conn:
        apply_in_database(conn, plan)
    t = metadata.tables
    with engine.connect() as conn:
        assert _rows(conn, "consent_events") == 0
        assert conn.scalar(select(t["ticket_notes"].c.note)) is None
        assert _rows(conn, "ticket_notes") == 1


def test_the_downgrade_lifts_the_refusals(engine: Engine) -> None:
    assert current_revision(engine) == head_revision() >= "0021"
    _seed(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0020")
    with engine.begin() as conn:
        conn.execute(metadata.tables["loyalty_points"].update().values(points=7))
        conn.execute(metadata.tables["adjustments"].delete())
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE line_status_history"))
    with engine.connect() as conn:
        assert conn.scalar(select(metadata.tables["loyalty_points"].c.points)) == 7
        assert _rows(conn, "adjustments") == 0
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    assert current_revision(engine) == head_revision()
    with pytest.raises(DBAPIError, match="loyalty_points is append-only"), engine.begin() as conn:
        conn.execute(metadata.tables["loyalty_points"].delete())
