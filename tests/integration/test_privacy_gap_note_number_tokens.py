"""Phone numbers in agents' notes on complaints and the subscriber's erasure, at the store (SQLite and PostgreSQL).

A note keeps a token where a number stood (``care.tokenise_note``), the number in ``complaint_note_numbers``;
``get_complaint`` gives the number back, and ``NOTE_NUMBER_ERASED`` once the erasure of its subscriber forgot it.
Notes written before (numbers in clear) are turned into tokens once by migration 0025, in place, the append-only
trigger of the ledger in force again after it; erasure never updates the ledger. The downgrade writes back the numbers
still known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import DatabaseError

from fairtel.care import ComplaintStatus
from fairtel.care._complaints import NOTE_NUMBER_ERASED, note_token, resolve_note, tokenise_note
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, get_complaint, migrate, move_complaint, open_complaint
from fairtel.store._erasure import apply_in_database, plan
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import Complaint, ComplaintEvent, ComplaintNoteNumber, Customer, Subscriber, table_of

GONE, LIVE = "8613900000011", "8613900000012"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
AT = NOW - timedelta(days=400)
KEY = Pseudonymizer("k" * 32, domain="msisdn")
DESK = AuditAs("desk-1", "agent", KEY, reason="complaint desk")
LEGACY = "called 139-0000-0011 and his brother on 13900000012, ticket cmp-0000099 on 2026-10-03, 12.50 yuan"


def _lines(conn: Any) -> None:
    conn.execute(table_of(Customer).insert(), [{"customer_id": "c-1", "name": "Zhang Wei", "segment": "consumer",
                                                "created_at": AT}])
    conn.execute(table_of(Subscriber).insert(), [
        {"msisdn": m, "customer_id": "c-1", "plan_id": "basic-39", "activated_at": AT, "status": "closed",
         "language": "zh", "region": "cq", "updated_at": AT, "closed_at": NOW - timedelta(days=30), "suspended_at": None}
        for m in (GONE, LIVE)])


def _rows(engine: Engine) -> tuple[list[str], list[tuple[str, str]]]:
    e, n = table_of(ComplaintEvent), table_of(ComplaintNoteNumber)
    with engine.connect() as conn:
        notes = [x for x in conn.execute(select(e.c.note).order_by(e.c.complaint_id, e.c.seq)).scalars() if x]
        return notes, sorted((r.token, r.number) for r in conn.execute(select(n.c.token, n.c.number)))


def _erase(engine: Engine, msisdn: str) -> int:
    with engine.begin() as conn:
        planned = plan(conn, msisdn, now=NOW)
        assert planned.refused == (), planned.refused
        apply_in_database(conn, planned)
        return planned.note_numbers


def test_a_note_written_now_keeps_tokens_and_erasure_forgets_the_number(engine: Engine) -> None:
    with engine.begin() as conn:
        _lines(conn)
        cid = open_complaint(conn, msisdn=GONE, category="billing_error", text="charged twice", at=AT,
                             audit=DESK).complaint_id
        move_complaint(conn, cid, ComplaintStatus.CLOSED, at=AT + timedelta(hours=1), audit=DESK,
                       note="rang +86 139 0000 0011; his brother 13900000012 too")
    notes, numbers = _rows(engine)
    assert len(notes) == 1 and "0000001" not in notes[0] and notes[0].count("[tel:") == 2
    assert sorted(n for _, n in numbers) == [GONE, LIVE]
    assert {t for t, _ in numbers} == {note_token(GONE, KEY), note_token(LIVE, KEY)}  # keyed: stable per number
    with engine.connect() as conn:
        (shown,) = [e.note for e in get_complaint(conn, cid).history if e.note and "rang" in e.note]
    # read back as written (digits as typed: the ``+`` and spaces out, a number dialled at home as dialled)
    assert shown == f"rang {GONE}; his brother {LIVE[2:]} too"

    assert _erase(engine, GONE) == 1
    notes, numbers = _rows(engine)
    assert [n for _, n in numbers] == [LIVE] and "0000001" not in notes[0]
    with engine.connect() as conn:
        (shown,) = [e.note for e in get_complaint(conn, cid).history if e.note and "rang" in e.note]
    assert shown == f"rang {NOTE_NUMBER_ERASED}; his brother {LIVE[2:]} too"
    assert _erase(engine, GONE) == 0  # nothing left: idempotent


def test_notes_written_before_0025_are_tokenised_by_the_migration(blank_engine: Engine) -> None:
    migrate(blank_engine, revision="0024")
    with blank_engine.begin() as conn:
        _lines(conn)
        conn.execute(table_of(Complaint).insert().values(
            complaint_id="cmp-1", msisdn=LIVE, category="billing_error", opened_at=AT, closed_at=AT, status="closed",
            channel="chat", text="charged twice", lifecycle="closed", escalation_level=0))
        conn.execute(table_of(ComplaintEvent).insert(), [
            {"complaint_id": "cmp-1", "seq": 1, "kind": "status", "status": "opened", "at": AT, "actor": "web",
             "note": None},
            {"complaint_id": "cmp-1", "seq": 2, "kind": "status", "status": "closed", "at": AT, "actor": "agent1",
             "note": LEGACY}])
    migrate(blank_engine)
    notes, numbers = _rows(blank_engine)
    assert notes[0].count("[tel:") == 2 and "0000001" not in notes[0] and "139-0000" not in notes[0]
    assert "cmp-0000099 on 2026-10-03, 12.50 yuan" in notes[0]  # ids, dates and amounts stay
    assert sorted(n for _, n in numbers) == ["13900000011", "13900000012"]  # as written: the migration has no country
    with blank_engine.connect() as conn:
        (shown,) = [e.note for e in get_complaint(conn, "cmp-1").history if e.note]
    assert shown == LEGACY.replace("139-0000-0011", "13900000011")

    # the ledger is append-only again after the migration's one rewrite
    e = table_of(ComplaintEvent)
    with pytest.raises(DatabaseError, match="append-only"), blank_engine.begin() as conn:
        conn.execute(update(e).where(e.c.complaint_id == "cmp-1").values(note="rewritten"))

    # erasure finds the number written as dialled at home, in another subscriber's complaint
    assert _erase(blank_engine, GONE) == 1
    with blank_engine.connect() as conn:
        (shown,) = [e.note for e in get_complaint(conn, "cmp-1").history if e.note]
    assert shown.startswith(f"called {NOTE_NUMBER_ERASED} and his brother on 13900000012,")
    notes, numbers = _rows(blank_engine)
    assert "0000001" not in notes[0] and [n for _, n in numbers] == ["13900000012"]

    # the downgrade writes back what is still known; the erased number stays forgotten
    with blank_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0024")
    with blank_engine.connect() as conn:
        notes = [x for x in conn.execute(select(e.c.note).order_by(e.c.seq)).scalars() if x]
        assert notes == [LEGACY.replace("139-0000-0011", NOTE_NUMBER_ERASED)]
        assert "complaint_note_numbers" not in {r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type='table'" if conn.dialect.name == "sqlite" else
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}


def test_tokenise_and_resolve_round_trip_without_a_key() -> None:
    stored, numbers = tokenise_note("wife 13700137000, order ord-8613700137000-0917", lambda n: note_token(n))
    assert "137" not in stored and set(numbers.values()) == {"8613700137000"} and len(numbers) == 2
    assert resolve_note(stored, numbers) == "wife 13700137000, order ord-8613700137000-0917"  # as written
    assert resolve_note(stored, {}) == f"wife {NOTE_NUMBER_ERASED}, order ord-{NOTE_NUMBER_ERASED}-0917"
