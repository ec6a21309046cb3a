"""Erasure of one subscriber's personal data at their request (``fairtel privacy erase``, ``store._erasure``).

A closed line with no matter open loses its customer's name, its region, its complaint texts, its tickets' words and
notes, its survey comments, its outbox messages and its rows of the retention call list; its bills, adjustments,
consent events, the append-only ledgers (0021: a complaint's history with its notes, the marketing preferences) and
the access audit stay. A line not closed, or closed without a date, or with a matter open (complaint, ticket,
adjustment no bill carries) is refused and nothing changes. A second apply changes nothing; the apply records one
``subscriber.erase`` row naming the line by its pseudonym and no personal data."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from fairtel.cli import app as cli
from fairtel.store._erasure import NAME_ERASED, apply_in_database, apply_in_files, plan
from fairtel.store._retention import COMPLAINT_REMOVED, CONVERSATION_REMOVED
from fairtel.store._schema import (
    AccessAudit,
    Adjustment,
    Complaint,
    ComplaintEvent,
    Customer,
    MarketingPreference,
    Subscriber,
    Survey,
    TicketNote,
    TroubleTicket,
    table_of,
)

GONE, LIVE, SOLO = "8613900000011", "8613900000012", "8613900000013"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
WORDS = "Zhang Wei, call me on 13911112222"
runner = CliRunner()


def _seed(conn: Any) -> None:
    at = NOW - timedelta(days=400)
    closed = NOW - timedelta(days=30)
    conn.execute(table_of(Customer).insert(), [
        {"customer_id": "c-both", "name": "Zhang Wei", "segment": "consumer", "created_at": at},
        {"customer_id": "c-solo", "name": "Li Na", "segment": "consumer", "created_at": at},
    ])
    conn.execute(table_of(Subscriber).insert(), [
        {"msisdn": m, "customer_id": cust, "plan_id": "basic-39", "activated_at": at, "status": status,
         "language": "zh", "region": "cq", "updated_at": at, "closed_at": closed_at, "suspended_at": None}
        for m, cust, status, closed_at in ((GONE, "c-both", "closed", closed), (LIVE, "c-both", "active", None),
                                           (SOLO, "c-solo", "closed", closed))
    ])
    for m in (GONE, SOLO, LIVE):
        conn.execute(table_of(Complaint).insert().values(
            complaint_id=f"cmp-{m[-2:]}", msisdn=m, category="unexplained_charge", opened_at=at, closed_at=at,
            status="closed", channel="chat", text=WORDS, lifecycle="closed", escalation_level=0))
        conn.execute(table_of(ComplaintEvent).insert().values(
            complaint_id=f"cmp-{m[-2:]}", seq=1, kind="status", status="closed", at=at, actor="agent1", note=WORDS))
        conn.execute(table_of(TroubleTicket).insert().values(
            ticket_id=f"tkt-{m[-2:]}", msisdn=m, region="cq", category="no_signal", priority=2, status="closed",
            opened_at=at, resolved_at=at, summary=WORDS))
        conn.execute(table_of(TicketNote).insert().values(ticket_id=f"tkt-{m[-2:]}", noted_at=at, author="agent1",
                                                          status="closed", note=WORDS))
        conn.execute(table_of(Survey).insert().values(survey_id=f"srv-{m[-2:]}", msisdn=m, score=3, answered_at=at,
                                                      channel="sms", comment=WORDS))
        conn.execute(table_of(MarketingPreference).insert().values(
            pref_id=f"mp-{m[-2:]}", msisdn=m, opted_out=True, changed_at=at, channel="sms", source="subscriber",
            changed_by="agent1"))


def _state(conn: Any) -> dict[str, Any]:
    def rows(model: Any, *cols: str) -> list[tuple[Any, ...]]:
        t = table_of(model)
        return sorted(tuple(r) for r in conn.execute(select(*(t.c[c] for c in cols))))

    return {
        "customers": rows(Customer, "customer_id", "name"),
        "subscribers": rows(Subscriber, "msisdn", "region", "status"),
        "complaints": rows(Complaint, "complaint_id", "text"),
        "events": rows(ComplaintEvent, "complaint_id", "note"),
        "tickets": rows(TroubleTicket, "ticket_id", "summary"),
        "notes": rows(TicketNote, "ticket_id", "note"),
        "surveys": rows(Survey, "survey_id", "comment"),
        "prefs": rows(MarketingPreference, "pref_id", "opted_out"),
    }


def test_a_closed_line_is_erased_once_and_what_the_law_keeps_stays(engine: Engine) -> None:
    with engine.begin() as conn:
        _seed(conn)
    with engine.begin() as conn:
        planned = plan(conn, GONE, now=NOW)
        assert planned.refused == ()
        assert planned.complaints == ("cmp-11",) and planned.tickets == ("tkt-11",) and planned.ticket_notes == 1
        assert planned.surveys == ("srv-11",) and planned.region
        assert not planned.name and planned.name_kept == "the customer has another line not closed"
        assert planned.kept["complaint_events"] == 1 and planned.kept["marketing_preferences"] == 1
        assert "8613900000011" not in planned.words() and "Zhang" not in planned.words()
        apply_in_database(conn, planned)  # no UPDATE nor DELETE of a guarded table: the triggers let it through
    with engine.connect() as conn:
        after = _state(conn)
    assert ("c-both", "Zhang Wei") in after["customers"]  # the live line of the customer still needs it
    assert (GONE, None, "closed") in after["subscribers"] and (LIVE, "cq", "active") in after["subscribers"]
    assert ("cmp-11", COMPLAINT_REMOVED) in after["complaints"] and ("cmp-12", WORDS) in after["complaints"]
    assert ("tkt-11", CONVERSATION_REMOVED) in after["tickets"] and ("tkt-12", WORDS) in after["tickets"]
    assert ("tkt-11", None) in after["notes"] and ("tkt-12", WORDS) in after["notes"]
    assert ("srv-11", None) in after["surveys"] and ("srv-12", WORDS) in after["surveys"]
    assert ("cmp-11", WORDS) in after["events"]  # append-only (0021): stays
    assert ("mp-11", True) in after["prefs"]  # the opt-out stays honoured
    with engine.begin() as conn:  # again: nothing left, nothing changed
        again = plan(conn, GONE, now=NOW)
        assert again.refused == () and again.empty
        apply_in_database(conn, again)
    with engine.connect() as conn:
        assert _state(conn) == after


def test_the_only_line_of_a_customer_takes_the_name(engine: Engine) -> None:
    with engine.begin() as conn:
        _seed(conn)
        planned = plan(conn, SOLO, now=NOW)
        assert planned.name and planned.name_kept is None
        apply_in_database(conn, planned)
    with engine.connect() as conn:
        assert ("c-solo", NAME_ERASED) in _state(conn)["customers"]


@pytest.mark.parametrize("case", ["active", "undated", "complaint", "ticket", "adjustment", "unknown"])
def test_a_line_not_erasable_is_refused_and_nothing_changes(engine: Engine, case: str) -> None:
    s, c, t = table_of(Subscriber), table_of(Complaint), table_of(TroubleTicket)
    with engine.begin() as conn:
        _seed(conn)
        msisdn = LIVE if case == "active" else ("8613900000099" if case == "unknown" else GONE)
        if case == "undated":
            conn.execute(s.update().where(s.c.msisdn == GONE).values(closed_at=None))
        elif case == "complaint":
            conn.execute(c.update().where(c.c.complaint_id == "cmp-11").values(lifecycle="reopened"))
        elif case == "ticket":
            conn.execute(t.update().where(t.c.ticket_id == "tkt-11").values(status="in_progress"))
        elif case == "adjustment":
            conn.execute(table_of(Adjustment).insert().values(
                adjustment_id="adj-1", kind="credit", msisdn=GONE, amount_minor=500, currency="CNY",
                reason="goodwill", created_at=NOW, created_by="agent1"))
    with engine.connect() as conn:
        before = _state(conn)
    with engine.begin() as conn:
        planned = plan(conn, msisdn, now=NOW)
        assert planned.refused and planned.empty
        words = " ".join(planned.refused)
        expected = {"active": "not closed", "undated": "since when", "complaint": "complaint cmp-11 is open",
                    "ticket": "ticket tkt-11 is in_progress", "adjustment": "adj-1", "unknown": "not in the register"}
        assert expected[case] in words
        from fairtel.core.errors import ConflictError

        with pytest.raises(ConflictError):
            apply_in_database(conn, planned)
        assert apply_in_files(planned) == {"outbox": 0, "retention_list": 0}
    with engine.connect() as conn:
        assert _state(conn) == before


# --- the command, on a home (SQLite) -------------------------------------------------------------------------------

def _ft(home: Path, *args: str, ok: bool = True) -> dict[str, Any]:
    result = runner.invoke(cli, [*args, "--home", str(home), "--json"], env={"FAIRTEL_CONFIG": os.devnull})
    assert (result.exit_code == 0) == ok, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _home(tmp_path: Path) -> tuple[Path, Any]:
    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings

    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.begin() as conn:
            _seed(conn)
        outbox = app.settings.outbox_dir
    finally:
        app.close()
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "messages.jsonl").write_text("".join(
        json.dumps({"message_id": f"m{i}", "msisdn": m, "text": f"Your code for {m}", "created_at": NOW.isoformat()})
        + "\n" for i, m in enumerate((GONE, LIVE, GONE))), encoding="utf-8")
    (outbox / "retention.csv").write_text(f"rank,msisdn,plan_id\n1,{LIVE},basic-39\n2,{GONE},basic-39\n",
                                          encoding="utf-8")
    return home, outbox


def _audit(home: Path) -> list[Any]:
    from fairtel.bootstrap import bootstrap
    from fairtel.core.settings import load_settings

    app = bootstrap(load_settings(home=home))
    try:
        with app.db.connect() as conn:
            a = table_of(AccessAudit)
            return list(conn.execute(select(a).where(a.c.action == "subscriber.erase").order_by(a.c.audit_id)))
    finally:
        app.close()


def test_the_command_plans_applies_audits_and_rewrites_the_files_once(tmp_path: Path) -> None:
    home, outbox = _home(tmp_path)
    planned = _ft(home, "privacy", "erase", GONE, "--plan")
    assert planned["erasable"] and planned["erase"]["outbox_messages"] == 2
    assert planned["erase"]["retention_list_rows"] == 1
    assert _audit(home) == [] and GONE in (outbox / "messages.jsonl").read_text()
    out = _ft(home, "privacy", "erase", GONE, "--apply", "--by", "dpo-1")
    assert out["applied"]["outbox_messages"] == 2 and out["applied"]["retention_list_rows"] == 1
    assert GONE not in (outbox / "messages.jsonl").read_text() and LIVE in (outbox / "messages.jsonl").read_text()
    assert (outbox / "retention.csv").read_text() == f"rank,msisdn,plan_id\n1,{LIVE},basic-39\n"
    assert not list(outbox.glob(".*.tmp"))
    rows = _audit(home)
    assert len(rows) == 1 and rows[0].subject_msisdn_pseudonym and rows[0].role == "cli"
    assert "authorised by dpo-1" in rows[0].reason and "cmp-11" in rows[0].reason
    assert GONE not in rows[0].reason and "Zhang" not in rows[0].reason and "13911112222" not in rows[0].reason
    files = {p.name: p.read_bytes() for p in outbox.iterdir()}
    again = _ft(home, "privacy", "erase", GONE, "--apply", "--by", "dpo-1")
    assert again["nothing_left"] and again["applied"]["audit_request_id"] is None
    assert {p.name: p.read_bytes() for p in outbox.iterdir()} == files and len(_audit(home)) == 1


def test_the_command_refuses_a_line_not_closed(tmp_path: Path) -> None:
    home, outbox = _home(tmp_path)
    before = (outbox / "messages.jsonl").read_bytes()
    out = _ft(home, "privacy", "erase", LIVE, "--apply", "--by", "dpo-1", ok=False)
    assert out["error"]["code"] == "conflict" and "not closed" in out["error"]["message"]
    assert (outbox / "messages.jsonl").read_bytes() == before and _audit(home) == []
    assert _ft(home, "privacy", "erase", LIVE, "--plan")["erasable"] is False
    bad = _ft(home, "privacy", "erase", GONE, "--apply", ok=False)  # no --by
    assert "--by" in json.dumps(bad)


def test_usage_no_bill_carries_refuses_the_line(engine: Engine, tmp_path: Path) -> None:
    import pyarrow as pa

    from fairtel.store._lake import Lake

    lake = Lake(tmp_path / "lake")
    rated = pa.table({"source": ["msc", "msc"], "record_id": ["r1", "r2"], "msisdn": [GONE, SOLO]})
    lake.write("rated", "2026-09", rated, part="run-1")
    lake.write("billed", "2026-09", rated.slice(1), part="run-1")  # SOLO's record was billed, GONE's held
    with engine.begin() as conn:
        _seed(conn)
        held = plan(conn, GONE, now=NOW, lake=lake)
        assert held.refused == ("1 usage records of 2026-09 rated and on no bill (held or late)",)
        assert plan(conn, SOLO, now=NOW, lake=lake).refused == ()


def test_held_usage_written_off_no_longer_stops_erasure(engine: Engine, tmp_path: Path) -> None:
    """A closed line's usage after its closing can only be written off, never billed: once written off (`fairtel bill
    release --write-off`, an audit decision), it no longer refuses the line's erasure, though no bill's snapshot
    holds it; a record not decided still does."""
    import pyarrow as pa

    from fairtel.cli._billing import WRITE_OFF_ACTION, _decision_resource
    from fairtel.store import AccessAudit, access_row
    from fairtel.store._lake import Lake
    from fairtel.store._schema import table_of

    lake = Lake(tmp_path / "lake")
    rated = pa.table({"source": ["msc", "msc"], "record_id": ["r1", "r3"], "msisdn": [GONE, GONE]})
    lake.write("rated", "2026-09", rated, part="run-1")
    lake.write("billed", "2026-09", rated.slice(0, 0), part="run-1")
    with engine.begin() as conn:
        _seed(conn)
        assert plan(conn, GONE, now=NOW, lake=lake).refused == (
            "2 usage records of 2026-09 rated and on no bill (held or late)",)
        conn.execute(table_of(AccessAudit).insert().values(**access_row(
            actor="ops", role="fraud_analyst", action=WRITE_OFF_ACTION,
            resource=_decision_resource("2026-09", "msc", "r1"), at=NOW)))
        assert plan(conn, GONE, now=NOW, lake=lake).refused == (
            "1 usage records of 2026-09 rated and on no bill (held or late)",)
        conn.execute(table_of(AccessAudit).insert().values(**access_row(
            actor="ops", role="fraud_analyst", action=WRITE_OFF_ACTION,
            resource=_decision_resource("2026-09", "msc", "r3"), at=NOW)))
        assert plan(conn, GONE, now=NOW, lake=lake).refused == ()
