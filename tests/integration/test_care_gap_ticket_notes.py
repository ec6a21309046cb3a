"""Agents' notes on trouble tickets, on SQLite and PostgreSQL: entries of their own (``ticket_notes``, migration
0014), never text in the ticket's summary; the notes tickets already had are moved out of their summaries by the
migration (and back by its downgrade). And the assistant's port over the database: a subscriber's conversation
reads the other lines of their own customer account, each such read audited under that line.

Before: each move appended ``[<status> by <who> at <instant>] <note>`` to the summary and the reader took any such
line for a note, wherever it came from (a subscriber's message of several lines, a fault's place)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fairtel.care import Assistant, IntentPrediction, detect_language
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import InvalidInputError, NotFoundError
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, Customer, StoreCareData, Subscriber, TroubleTicket, migrate
from fairtel.store._care import HANDOFF, add_ticket_note, move_ticket, ticket_notes, ticket_text
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import TicketNote, table_of

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEGACY = ("chat chat_01legacy\nuser: my bill is wrong\nassistant: Which month?\nuser: a person please\n"
          "[in_progress by agent1 at 2026-11-02T09:05:00Z]\n"
          "[resolved by agent2 at 2026-11-02T10:30:00Z] explained the bill\non the phone")
FAULT = "no_signal at [block 3]\n[since] yesterday (reported in chat chat_01fault)"  # brackets, and no note
ME, MINE, STRANGER = "8613800138000", "8613800138011", "8613700137000"
PSEUDONYM = Pseudonymizer("a test secret of the home, 32 chars", domain="msisdn")


def _ticket(engine: Engine, ticket_id: str, summary: str, category: str = HANDOFF, msisdn: str = ME) -> None:
    with engine.begin() as conn:
        conn.execute(table_of(TroubleTicket).insert().values(
            ticket_id=ticket_id, msisdn=msisdn, region=None, category=category, priority=2, status="open", opened_at=AT,
            resolved_at=None, summary=summary))


def _summary(engine: Engine, ticket_id: str) -> str:
    t = table_of(TroubleTicket)
    with engine.connect() as conn:
        return str(conn.execute(select(t.c.summary).where(t.c.ticket_id == ticket_id)).scalar_one())


def test_the_migration_moves_the_notes_out_of_the_summaries_and_back(blank_engine: Engine) -> None:
    with blank_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0013")
    _ticket(blank_engine, "tkt-legacy", LEGACY)
    _ticket(blank_engine, "tkt-fault", FAULT, category="no_signal")
    migrate(blank_engine)  # to head

    assert _summary(blank_engine, "tkt-legacy") == LEGACY[: LEGACY.index("\n[in_progress")]
    assert _summary(blank_engine, "tkt-fault") == FAULT  # nothing there was a note
    with blank_engine.connect() as conn:
        notes = ticket_notes(conn, "tkt-legacy")
        assert ticket_notes(conn, "tkt-fault") == []
    assert [(n.status, n.author, n.noted_at, n.note) for n in notes] == [
        ("in_progress", "agent1", datetime(2026, 11, 2, 9, 5, tzinfo=UTC), ""),
        ("resolved", "agent2", datetime(2026, 11, 2, 10, 30, tzinfo=UTC), "explained the bill\non the phone"),
    ]
    text = ticket_text(_summary(blank_engine, "tkt-legacy"), HANDOFF)
    assert [t.who for t in text.turns] == ["user", "assistant", "user"] and text.turns[-1].text == "a person please"
    assert text.asked_first == "my bill is wrong"  # a hand-off written before the header: its first words

    with blank_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0013")
    assert _summary(blank_engine, "tkt-legacy") == LEGACY and _summary(blank_engine, "tkt-fault") == FAULT


def test_moves_and_notes_are_entries_of_their_own(engine: Engine) -> None:
    forged = "user: hello\n  [resolved by admin at 2026-11-01T00:00:00Z] refund approved\nassistant: Hello!"
    _ticket(engine, "tkt-1", f"chat chat_01x\n{forged}")
    with engine.begin() as conn:
        move_ticket(conn, "tkt-1", "in_progress", at=AT, actor="agent1")
        add_ticket_note(conn, "tkt-1", "  called the customer back  ", at=AT.replace(minute=30), actor="agent1")
        move_ticket(conn, "tkt-1", "resolved", at=AT.replace(hour=10), actor="agent2", note="fixed")
    with engine.connect() as conn:
        notes = ticket_notes(conn, "tkt-1")
    assert [(n.status, n.author, n.noted_at.hour, n.noted_at.minute, n.note) for n in notes] == [
        ("in_progress", "agent1", 9, 0, ""), (None, "agent1", 9, 30, "called the customer back"),
        ("resolved", "agent2", 10, 0, "fixed")]
    assert _summary(engine, "tkt-1") == f"chat chat_01x\n{forged}"  # the subscriber's words, as written
    text = ticket_text(_summary(engine, "tkt-1"), HANDOFF)
    assert [t.who for t in text.turns] == ["user", "assistant"] and "refund approved" in text.turns[0].text

    with engine.begin() as conn:
        with pytest.raises(InvalidInputError):
            add_ticket_note(conn, "tkt-1", "   ", at=AT, actor="agent1")
        with pytest.raises(InvalidInputError):
            add_ticket_note(conn, "tkt-1", "x" * 2001, at=AT, actor="agent1")
        with pytest.raises(NotFoundError):
            add_ticket_note(conn, "tkt-none", "hello", at=AT, actor="agent1")
    n = table_of(TicketNote)
    with engine.connect() as conn:
        assert conn.execute(select(n.c.note_id).where(n.c.ticket_id == "tkt-1")).all().__len__() == 3


def _classify(text: str) -> IntentPrediction:
    label = "bill_inquiry" if "账单" in text else "out_of_scope"
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


def test_a_subscribers_conversation_reads_their_own_accounts_lines_audited(engine: Engine, tmp_path: object) -> None:
    with engine.begin() as conn:
        conn.execute(table_of(Customer).insert(), [{"customer_id": "cu-1", "created_at": AT}, {"customer_id": "cu-2", "created_at": AT}])
        conn.execute(table_of(Subscriber).insert(), [
            {"msisdn": m, "customer_id": c, "plan_id": "basic-39", "activated_at": AT, "status": "active", "language": "zh",
             "region": None, "updated_at": AT} for m, c in ((ME, "cu-1"), (MINE, "cu-1"), (STRANGER, "cu-2"))])
    port = StoreCareData(engine, f"{tmp_path}/lake", load_catalog(default_catalog_path()), clock=lambda: AT,
                         pseudonymize=PSEUDONYM)
    line = port.line(ME)
    assert line is not None and line.lines == (ME, MINE)
    a = Assistant(_classify, port, account_lines=True)
    other = a.reply(f"{MINE[2:]} 十月的账单", msisdn=ME)
    refused = a.reply(f"{STRANGER[2:]} 十月的账单", msisdn=ME)
    assert other.intent == "bill_inquiry" and other.line == MINE and "138****8011" in other.text
    assert refused.intent == "refused_other_line" and refused.line is None
    audit = table_of(AccessAudit)
    with engine.connect() as conn:
        rows = conn.execute(select(audit.c.action, audit.c.subject_msisdn_pseudonym, audit.c.reason)).all()
    assert [(r.action, r.subject_msisdn_pseudonym) for r in rows] == [("chat.line_read", PSEUDONYM(MINE))]
    assert PSEUDONYM(ME) in (rows[0].reason or "") and ME not in (rows[0].reason or "")
