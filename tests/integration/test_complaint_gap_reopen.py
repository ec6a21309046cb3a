"""A reopened complaint on SQLite and PostgreSQL: a new deadline from the reopening under the operator's policy,
the first deadline kept in the history (each opening's and reopening's in ``complaint_events``, the notes left as
written), escalation starting again, and the indicators of each period counting the complaint once and each of its
terms in the period it began. Events recorded before the events kept deadlines (migration 0011) are read with the
deadlines they implied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import insert, inspect, select
from sqlalchemy.engine import Engine

from fairtel.care import ComplaintStatus, SlaPolicy
from fairtel.privacy import Pseudonymizer
from fairtel.store import (
    AuditAs,
    Complaint,
    ComplaintEvent,
    current_revision,
    escalate_overdue,
    get_complaint,
    head_revision,
    migrate,
    move_complaint,
    open_complaint,
)
from fairtel.store._migrate import alembic_config
from fairtel.store._schema import table_of

T0 = datetime(2026, 2, 20, 1, 0, tzinfo=UTC)
LINE = "8613800138000"
DESK = AuditAs("desk-1", "agent", Pseudonymizer("k" * 32, domain="msisdn"))
# the operator's setting: unexplained charges acknowledged within 2 h and resolved within 12 h
OPERATOR = SlaPolicy(acknowledge={"default": 24, "unexplained_charge": 2}, resolve={"default": 72, "unexplained_charge": 12})


def _open(engine: Engine, at: datetime = T0) -> str:
    with engine.begin() as conn:
        return open_complaint(conn, msisdn=LINE, category="unexplained_charge", text="6 yuan", at=at, audit=DESK,
                              policy=OPERATOR).complaint_id


def _move(engine: Engine, cid: str, to: ComplaintStatus, at: datetime, note: str | None = None) -> None:
    with engine.begin() as conn:
        move_complaint(conn, cid, to, at=at, audit=DESK, note=note, policy=OPERATOR)


def test_reopening_sets_a_deadline_from_the_reopening_and_keeps_the_first(engine: Engine) -> None:
    cid = _open(engine)
    _move(engine, cid, ComplaintStatus.RESOLVED, T0 + timedelta(hours=5), "refunded")
    reopened = T0 + timedelta(days=3)
    _move(engine, cid, ComplaintStatus.REOPENED, reopened, "still charged")
    with engine.connect() as conn:
        rec = get_complaint(conn, cid, policy=OPERATOR)
        row = conn.execute(select(table_of(Complaint)).where(table_of(Complaint).c.complaint_id == cid)).one()
        e = table_of(ComplaintEvent)
        stored = conn.execute(select(e.c.status, e.c.note, e.c.due_at, e.c.previous_due_at, e.c.previous_escalation_level)
                              .where(e.c.complaint_id == cid).order_by(e.c.seq)).all()
    # the current term is due 12 h after the reopening, not 12 h after the first opening (long past)
    assert rec.due_at == row.due_at == reopened + timedelta(hours=12)
    # the first opening and its deadline stay: on the record, in the history and in the stored events
    assert rec.opened_at == row.opened_at == T0
    assert rec.first_due_at == T0 + timedelta(hours=12)
    assert [(e.status, e.due_at) for e in rec.history] == [
        ("opened", T0 + timedelta(hours=12)), ("resolved", None), ("reopened", reopened + timedelta(hours=12))]
    assert [e.note for e in rec.history] == [None, "refunded", "still charged"]
    # stored beside the notes, which stay the writer's text: each term's deadline, and what the reopening replaced
    assert [tuple(r) for r in stored] == [
        ("opened", None, T0 + timedelta(hours=12), None, None), ("resolved", "refunded", None, None, None),
        ("reopened", "still charged", reopened + timedelta(hours=12), T0 + timedelta(hours=12), 0)]
    assert (rec.history[2].previous_due_at, rec.history[2].previous_escalation_level) == (T0 + timedelta(hours=12), 0)
    # and the complaint resolved again, the history has both terms, each settled
    _move(engine, cid, ComplaintStatus.RESOLVED, reopened + timedelta(hours=4), "blocked the offer")
    with engine.connect() as conn:
        rec = get_complaint(conn, cid, policy=OPERATOR)
    terms = rec.lifecycle().terms(OPERATOR)
    assert [(t.started_at, t.due_at, t.settled_at, t.reopened) for t in terms] == [
        (T0, T0 + timedelta(hours=12), T0 + timedelta(hours=5), False),
        (reopened, reopened + timedelta(hours=12), reopened + timedelta(hours=4), True)]
    assert rec.closed_at == reopened + timedelta(hours=4)


def test_escalation_starts_again_with_the_reopened_term(engine: Engine) -> None:
    cid = _open(engine)
    with engine.begin() as conn:  # 12 h to resolve + 24 h margin: the manager
        (esc,) = escalate_overdue(conn, now=T0 + timedelta(hours=40), audit=DESK, policy=OPERATOR)
    assert esc.to_level == 2
    _move(engine, cid, ComplaintStatus.RESOLVED, T0 + timedelta(hours=41))
    reopened = T0 + timedelta(hours=50)
    _move(engine, cid, ComplaintStatus.REOPENED, reopened, "not satisfied")
    with engine.begin() as conn:
        assert get_complaint(conn, cid, policy=OPERATOR).escalation_level == 0
        # an hour later: not late (the old deadline is not the reopened complaint's)
        assert escalate_overdue(conn, now=reopened + timedelta(hours=1), audit=DESK, policy=OPERATOR) == []
    with engine.begin() as conn:  # not acknowledged again within 2 h: the supervisor
        (esc,) = escalate_overdue(conn, now=reopened + timedelta(hours=3), audit=DESK, policy=OPERATOR)
    assert (esc.from_level, esc.to_level, esc.due_at) == (0, 1, reopened + timedelta(hours=12))
    with engine.begin() as conn:
        (esc,) = escalate_overdue(conn, now=reopened + timedelta(hours=12 + 25), audit=DESK, policy=OPERATOR)
    assert (esc.from_level, esc.to_level) == (1, 2)
    with engine.connect() as conn:
        rec = get_complaint(conn, cid, policy=OPERATOR)
    assert [e.kind for e in rec.history].count("escalation") == 4  # both terms' escalations stay in the history
    (reopening,) = [e for e in rec.history if e.status == "reopened" and e.kind == "status"]
    assert (reopening.due_at, reopening.previous_due_at, reopening.previous_escalation_level) == (
        reopened + timedelta(hours=12), T0 + timedelta(hours=12), 2)


def test_a_reopening_recorded_before_deadlines_were_renewed_keeps_the_deadline_in_force(engine: Engine) -> None:
    """Events written as reopenings were before: no deadline recorded on them, the row's deadline left as it was."""
    t, e = table_of(Complaint), table_of(ComplaintEvent)
    with engine.begin() as conn:
        conn.execute(insert(t).values(complaint_id="cmp-old", msisdn=LINE, category="unexplained_charge", opened_at=T0,
                                      closed_at=None, status="open", channel="hotline", text="x", lifecycle="reopened",
                                      due_at=T0 + timedelta(hours=48), escalation_level=1))
        conn.execute(insert(e), [
            {"complaint_id": "cmp-old", "seq": n, "kind": "status", "status": s, "at": T0 + timedelta(hours=h), "actor": "desk",
             "note": note} for n, (s, h, note) in enumerate([("opened", 0, None), ("resolved", 2, "ok"), ("reopened", 3, "again")], 1)])
    with engine.connect() as conn:
        rec = get_complaint(conn, "cmp-old", policy=OPERATOR)
    assert rec.due_at == rec.first_due_at == T0 + timedelta(hours=48)
    assert [(x.status, x.due_at, x.note) for x in rec.history] == [
        ("opened", T0 + timedelta(hours=48), None), ("resolved", None, "ok"), ("reopened", T0 + timedelta(hours=48), "again")]
    # reopened once more now: the new deadline, and the one it replaced stays the first term's
    _move(engine, "cmp-old", ComplaintStatus.RESOLVED, T0 + timedelta(hours=4))
    _move(engine, "cmp-old", ComplaintStatus.REOPENED, T0 + timedelta(hours=6))
    with engine.connect() as conn:
        rec = get_complaint(conn, "cmp-old", policy=OPERATOR)
    assert rec.due_at == T0 + timedelta(hours=18) and rec.first_due_at == T0 + timedelta(hours=48)
    assert [x.due_at for x in rec.history if x.status in ("opened", "reopened")] == [
        T0 + timedelta(hours=48), T0 + timedelta(hours=48), T0 + timedelta(hours=18)]
    assert (rec.history[-1].previous_due_at, rec.history[-1].previous_escalation_level) == (T0 + timedelta(hours=48), 1)
    with engine.connect() as conn:  # the events recorded before keep no deadline: it is inferred, not written back
        assert conn.execute(select(e.c.due_at).where(e.c.complaint_id == "cmp-old").order_by(e.c.seq)).scalars().all() == [
            None, None, None, None, T0 + timedelta(hours=18)]


def test_the_migration_leaves_recorded_events_without_deadlines_and_their_notes_as_written(blank_engine: Engine) -> None:
    """Upgraded from 0010 with a complaint opened, resolved and reopened: the new columns are empty, the history
    reads the deadline in force; downgraded again, the events are as they were."""
    migrate(blank_engine, revision="0010")
    t, e = table_of(Complaint), table_of(ComplaintEvent)
    notes = [None, "refunded", "[sla] resolution due 2026-02-21T01:00:00+00:00\ncharged again"]
    with blank_engine.begin() as conn:
        conn.execute(insert(t).values(complaint_id="cmp-0010", msisdn=LINE, category="unexplained_charge", opened_at=T0,
                                      closed_at=None, status="open", channel="hotline", text="x", lifecycle="reopened",
                                      due_at=T0 + timedelta(hours=48), escalation_level=0))
        conn.execute(insert(e), [
            {"complaint_id": "cmp-0010", "seq": n, "kind": "status", "status": st, "at": T0 + timedelta(hours=h),
             "actor": "desk", "note": note} for n, (st, h, note) in enumerate(zip(("opened", "resolved", "reopened"), (0, 2, 30), notes,
                                                                                    strict=True), 1)])
    migrate(blank_engine)
    assert current_revision(blank_engine) == head_revision()
    columns = {c["name"]: c for c in inspect(blank_engine).get_columns("complaint_events")}
    assert all(columns[c]["nullable"] for c in ("due_at", "previous_due_at", "previous_escalation_level"))
    with blank_engine.connect() as conn:
        stored = conn.execute(select(e.c.note, e.c.due_at, e.c.previous_due_at, e.c.previous_escalation_level)
                              .order_by(e.c.seq)).all()
        rec = get_complaint(conn, "cmp-0010", policy=OPERATOR)
    assert [tuple(r) for r in stored] == [(note, None, None, None) for note in notes]
    # a note that looks like a deadline is the writer's text, not a deadline
    assert [(x.status, x.due_at, x.note) for x in rec.history] == [
        ("opened", T0 + timedelta(hours=48), None), ("resolved", None, "refunded"),
        ("reopened", T0 + timedelta(hours=48), notes[2])]
    with blank_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0010")
    assert current_revision(blank_engine) == "0010"
    assert {c["name"] for c in inspect(blank_engine).get_columns("complaint_events")}.isdisjoint(
        {"due_at", "previous_due_at", "previous_escalation_level"})
    with blank_engine.connect() as conn:
        assert conn.execute(select(e.c.seq, e.c.note).order_by(e.c.seq)).all() == list(enumerate(notes, 1))


def test_each_period_counts_the_complaint_once_and_each_term_where_it_began(engine: Engine) -> None:
    from fairtel.kpi import KpiInputs, compute_kpis
    from fairtel.store._complaints import complaint_facts

    feb, mar, apr = (datetime(2026, m, 1, tzinfo=UTC) for m in (2, 3, 4))
    early = _open(engine)  # opened in February, settled in time, reopened in March and settled in time again
    _move(engine, early, ComplaintStatus.RESOLVED, T0 + timedelta(hours=5))
    reopened = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    _move(engine, early, ComplaintStatus.REOPENED, reopened, "charged again")
    _move(engine, early, ComplaintStatus.RESOLVED, reopened + timedelta(hours=10))
    twice = _open(engine, datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # opened and reopened in March: one complaint
    _move(engine, twice, ComplaintStatus.RESOLVED, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    _move(engine, twice, ComplaintStatus.REOPENED, datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    now = datetime(2026, 4, 20, tzinfo=UTC)

    def report(start: datetime, end: datetime) -> dict[str, Any]:
        with engine.connect() as conn:
            facts = complaint_facts(conn, start=start, end=end, policy=OPERATOR)
        inputs = KpiInputs(period=start.strftime("%Y-%m"), subscribers=1_000_000, now=now, complaints=facts, start=start, end=end)
        return compute_kpis(inputs, sla=OPERATOR).to_dict()

    february, march = report(feb, mar), report(mar, apr)
    assert (february["complaints"]["total"], february["complaints"]["per_million"]) == (1, "1.00")
    assert february["sla"] == {"resolved": 1, "resolved_in_time": 1, "attainment": "1.0000", "open": 0, "open_overdue": 0}
    # March: one new complaint (the reopened February one is not a new complaint); three terms began in
    # March: the new complaint's opening (settled in time), its reopening (open, late) and the February
    # complaint's reopening (settled 10 h after it: in time against its own 12 h)
    assert (march["complaints"]["total"], march["complaints"]["per_million"]) == (1, "1.00")
    assert march["sla"] == {"resolved": 2, "resolved_in_time": 2, "attainment": "0.6667", "open": 1, "open_overdue": 1}  # the open late term counts as missed
