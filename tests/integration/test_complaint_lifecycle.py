"""The complaint lifecycle on SQLite and PostgreSQL: migration 0004 over existing rows, moves, escalation,
the history's constraints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from fairtel.care import ComplaintStatus
from fairtel.core.errors import ConflictError
from fairtel.privacy import Pseudonymizer
from fairtel.store import (
    AuditAs,
    Complaint,
    ComplaintEvent,
    escalate_overdue,
    get_complaint,
    migrate,
    move_complaint,
    open_complaint,
)
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import table_of

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
LINE = "8613800138000"
DESK = AuditAs("desk-1", "agent", Pseudonymizer("k" * 32, domain="msisdn"))


def test_migration_0004_keeps_old_rows_valid(blank_engine: Engine) -> None:
    migrate(blank_engine, revision="0003")
    old = [("c-open", "open", None), ("c-taken", "in_progress", None), ("c-done", "closed", T0 + timedelta(hours=5))]
    with blank_engine.begin() as conn:
        for cid, status, closed_at in old:
            conn.execute(text("INSERT INTO complaints (complaint_id, msisdn, category, opened_at, closed_at, status, channel, text) "
                              "VALUES (:c, :m, :cat, :o, :cl, :s, 'hotline', 'x')"),
                         {"c": cid, "m": LINE, "cat": "fraud" if cid == "c-open" else "price", "s": status,
                          "o": T0 if blank_engine.dialect.name != "sqlite" else T0.replace(tzinfo=None),
                          "cl": closed_at if closed_at is None or blank_engine.dialect.name != "sqlite" else closed_at.replace(tzinfo=None)})
    migrate(blank_engine)
    c = table_of(Complaint)
    with blank_engine.connect() as conn:
        rows = {r.complaint_id: r for r in conn.execute(select(c))}
        done = get_complaint(conn, "c-done")
    assert {k: r.lifecycle for k, r in rows.items()} == {"c-open": "opened", "c-taken": "acknowledged", "c-done": "closed"}
    assert rows["c-open"].due_at == T0 + timedelta(hours=24)  # fraud: 24 h
    assert rows["c-taken"].due_at == T0 + timedelta(hours=72)
    assert {r.escalation_level for r in rows.values()} == {0}
    assert [(e.status, e.recorded) for e in done.history] == [("opened", False), ("closed", False)]
    with blank_engine.begin() as conn:
        move_complaint(conn, "c-done", ComplaintStatus.REOPENED, at=T0 + timedelta(days=1), audit=DESK)
        with pytest.raises(ConflictError):
            move_complaint(conn, "c-taken", ComplaintStatus.REOPENED, at=T0 + timedelta(days=1), audit=DESK)
    with blank_engine.begin() as conn:  # and down again: the old schema, the old rows
        command.downgrade(alembic_config(conn), "0003")
    with blank_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM complaints")).scalar_one() == 3
    migrate(blank_engine)


def test_lifecycle_and_escalation(engine: Engine) -> None:
    with engine.begin() as conn:
        cid = open_complaint(conn, msisdn=LINE, category="unexplained_charge", text="6 yuan", at=T0, audit=DESK,
                             links={"conversation_id": "conv_1"}).complaint_id
    with engine.begin() as conn:
        (esc,) = escalate_overdue(conn, now=T0 + timedelta(hours=5), audit=DESK)
    assert (esc.complaint_id, esc.to_level) == (cid, 1)
    for hours, status in ((6, "acknowledged"), (7, "resolved"), (8, "closed")):
        with engine.begin() as conn:
            move_complaint(conn, cid, status, at=T0 + timedelta(hours=hours), audit=DESK)
    with engine.begin() as conn:
        assert escalate_overdue(conn, now=T0 + timedelta(days=9), audit=DESK) == []  # settled: nothing to escalate
        with pytest.raises(ConflictError, match="closed: cannot become resolved"):
            move_complaint(conn, cid, "resolved", at=T0 + timedelta(hours=9), audit=DESK)
    with engine.connect() as conn:
        rec = get_complaint(conn, cid)
    assert [(e.seq, e.kind, e.status) for e in rec.history] == [
        (1, "status", "opened"), (2, "escalation", "opened"), (3, "status", "acknowledged"), (4, "status", "resolved"),
        (5, "status", "closed")]
    assert rec.closed_at == T0 + timedelta(hours=7) and rec.store_status == "closed"


def test_history_rows_are_keyed_and_checked(engine: Engine) -> None:
    with engine.begin() as conn:
        cid = open_complaint(conn, msisdn=LINE, category="privacy", text="x", at=T0, audit=DESK).complaint_id
    e = table_of(ComplaintEvent)
    row = {"complaint_id": cid, "seq": 1, "kind": "status", "status": "acknowledged", "at": T0, "actor": "x", "note": None}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(e).values(**row))  # seq 1 is taken
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(e).values(**{**row, "seq": 2, "status": "lost"}))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(e).values(**{**row, "seq": 2, "complaint_id": "cmp_nope"}))
