"""`fairtel retention plan` and `fairtel retention apply` on a real home with two billed periods.

The older period ended more than the usage months ago: its usage detail goes, except the records of a line with a
complaint still open; the recent period keeps everything. Bills, bill lines and the bill run's snapshot stay.
Old rejects files go; consent events of a subscription ended more than the consent months ago go (not those of a
line with a matter open); a ticket closed more than the transcript months ago keeps its row without its words.
Each run records one access-audit row; a second run removes nothing more, and a run cut short is finished by
the next."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app as cli
from fairtel.core.settings import load_settings
from fairtel.core.time import Period, utc_now
from fairtel.store._care import add_ticket_note, move_ticket
from fairtel.store._complaints import open_complaint
from fairtel.store._lake import Lake
from fairtel.store._retention import CONVERSATION_REMOVED, months_before
from fairtel.store._schema import AccessAudit, Bill, BillLine, ConsentEvent, TicketNote, TroubleTicket, table_of

TZ = "Asia/Shanghai"
PLAIN, DISPUTED, OTHER = "8613900000001", "8613900000002", "8613900000003"
NOW = utc_now()
OLD = Period.containing(months_before(NOW, 10), TZ).key  # ended 9 months ago: past the 6 months
NEW = Period.containing(months_before(NOW, 1), TZ).key  # ended this month: kept
runner = CliRunner()


def _ft(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, [*args, "--home", str(home), "--json"], env={"FAIRTEL_CONFIG": os.devnull})
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def _at(moment: datetime) -> str:
    return moment.astimezone(Period.parse(OLD, TZ).start.tzinfo).isoformat()


def _operator(root: Path) -> Path:
    op = root / "op"
    (op / "consent").mkdir(parents=True)
    (op / "usage").mkdir()
    (op / "catalog.toml").write_text(default_catalog_path().read_text(encoding="utf-8"), encoding="utf-8")
    (op / "subscribers.csv").write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        + "".join(f"{m},c{m[-1]},basic-39,2020-01-01T00:00:00+08:00,active,en,cq\n" for m in (PLAIN, DISPUTED, OTHER)),
        encoding="utf-8")
    long_ago, lately = months_before(NOW, 30), months_before(NOW, 1)
    events = []
    for sub, msisdn, start, cancel in (("sub-old", PLAIN, long_ago, True), ("sub-live", PLAIN, lately, False),
                                       ("sub-disputed", DISPUTED, long_ago, True)):
        events.append({"event": "ordered", "subscription_id": sub, "msisdn": msisdn, "offer_id": "vas-music-10",
                       "at": _at(start), "channel": "app"})
        events.append({"event": "confirmed", "subscription_id": sub, "msisdn": msisdn, "offer_id": "vas-music-10",
                       "at": _at(start + timedelta(minutes=2)), "channel": "sms"})
        if cancel:
            events.append({"event": "cancelled", "subscription_id": sub, "msisdn": msisdn,
                           "offer_id": "vas-music-10", "at": _at(start + timedelta(days=20)), "channel": "app"})
    (op / "consent" / "e.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    usage = [
        json.dumps({"record_id": f"r{m[-1]}-{p}-{d}", "source": "msc", "msisdn": m, "kind": "voice", "direction": "out",
                    "started_at": f"{p}-{d:02d}T10:00:00+08:00", "duration_s": 60, "peer": "8613811112222"})
        for p in (OLD, NEW) for m in (PLAIN, DISPUTED, OTHER) for d in (3, 4)
    ]
    (op / "usage" / "u.jsonl").write_text("\n".join([*usage, "not a record"]) + "\n", encoding="utf-8")
    return op


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    _ft(home, "load", str(_operator(tmp_path)))
    for period in (OLD, NEW):
        _ft(home, "rate", "--period", period)
        assert _ft(home, "bill", "--period", period, "--issue")["bills"] == 3
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.begin() as conn:
            open_complaint(conn, msisdn=DISPUTED, category="unexplained_charge", text="I did not make these calls",
                           at=months_before(NOW, 8), audit=None)
            t = table_of(TroubleTicket)
            for tid, settled in (("tkt-old", months_before(NOW, 14)), ("tkt-recent", months_before(NOW, 1))):
                conn.execute(t.insert().values(ticket_id=tid, msisdn=PLAIN, region="cq", category="no_signal",
                                               priority=2, status="open", opened_at=settled - timedelta(days=1),
                                               resolved_at=None, summary="user: no signal at home, call me on 13911112222"))
                add_ticket_note(conn, tid, "called back 13911112222", at=settled - timedelta(hours=1), actor="agent1")
                move_ticket(conn, tid, "closed", at=settled, actor="agent1", note="fixed the cell")
    finally:
        app.close()
    past = time.time() - 100 * 86400  # written 100 days ago
    for path in (home / "rejects").glob("*.rejects.jsonl"):
        os.utime(path, (past, past))
    return home


def _lines(home: Path, dataset: str, period: str) -> list[str]:
    files = Lake(home / "lake").files(dataset, periods=[period])
    return sorted(m for f in files for m in pq.read_table(f, columns=["msisdn"]).column("msisdn").to_pylist())


def _state(home: Path) -> dict[str, Any]:
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.connect() as conn:
            t, n, e = table_of(TroubleTicket), table_of(TicketNote), table_of(ConsentEvent)
            return {
                "usage": {p: _lines(home, "usage", p) for p in (OLD, NEW)},
                "rated": {p: _lines(home, "rated", p) for p in (OLD, NEW)},
                "billed": {p: _lines(home, "billed", p) for p in (OLD, NEW)},
                "bills": conn.execute(select(func.count()).select_from(table_of(Bill))).scalar_one(),
                "bill_lines": conn.execute(select(func.count()).select_from(table_of(BillLine))).scalar_one(),
                "consent": sorted({r for (r,) in conn.execute(select(e.c.subscription_id))}),
                "tickets": {r.ticket_id: r.summary for r in conn.execute(select(t.c.ticket_id, t.c.summary))},
                "notes": sorted((r.ticket_id, r.note is None) for r in conn.execute(select(n.c.ticket_id, n.c.note))),
                "rejects": sorted(p.name for p in (home / "rejects").glob("*.rejects.jsonl")),
            }
    finally:
        app.close()


def _audit_rows(home: Path) -> list[Any]:
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.connect() as conn:
            a = table_of(AccessAudit)
            return list(conn.execute(select(a).where(a.c.action == "retention.apply").order_by(a.c.audit_id)))
    finally:
        app.close()


def _assert_retained(state: dict[str, Any], before: dict[str, Any]) -> None:
    assert state["usage"][OLD] == [DISPUTED, DISPUTED]  # the open complaint keeps its line's detail
    assert state["rated"][OLD] == [DISPUTED, DISPUTED]
    assert state["usage"][NEW] == before["usage"][NEW] and len(state["usage"][NEW]) == 6
    assert state["rated"][NEW] == before["rated"][NEW]
    assert state["billed"] == before["billed"]  # the bill run's snapshot stays
    assert (state["bills"], state["bill_lines"]) == (before["bills"], before["bill_lines"]) == (6, before["bill_lines"])
    assert state["consent"] == ["sub-disputed", "sub-live"]
    assert state["tickets"] == {"tkt-old": CONVERSATION_REMOVED, "tkt-recent": before["tickets"]["tkt-recent"]}
    assert all(gone for tid, gone in state["notes"] if tid == "tkt-old")
    assert not any(gone for tid, gone in state["notes"] if tid == "tkt-recent")
    assert state["rejects"] == []


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _home(tmp_path_factory.mktemp("retention"))


def _copy(built: Path, tmp_path: Path) -> Path:
    import shutil

    home = tmp_path / "home"
    shutil.copytree(built, home, symlinks=True)
    return home


def test_plan_lists_what_would_go_and_changes_nothing(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    before = _state(home)
    plan = _ft(home, "retention", "plan")
    detail = plan["usage_detail"]
    assert [p["period"] for p in detail["periods"]] == [OLD] and detail["oldest"] == OLD
    assert detail["periods"][0]["records"] == {"usage": 4, "rated": 4, "unrated": 0}
    assert detail["kept"] == [{"period": OLD, "records": 4, "lines": 1}]
    assert plan["rejects"]["files"] == 1 and plan["rejects"]["records"] == 1
    assert plan["consent"]["subscriptions"] == 1 and plan["consent"]["events"] == 3
    assert plan["consent"]["kept_for_open_matters"] == 1
    assert plan["conversations"]["tickets"] == 1 and plan["conversations"]["notes"] == 2
    assert plan["open_matters"]["lines"] == 1 and plan["open_matters"]["matters"][0].startswith("complaint ")
    assert DISPUTED not in json.dumps(plan) and PLAIN not in json.dumps(plan)
    assert _state(home) == before and _audit_rows(home) == []


def test_apply_removes_old_detail_keeps_bills_and_disputed_lines_and_is_idempotent(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    before = _state(home)
    out = _ft(home, "retention", "apply", "--by", "dpo-li")
    assert out["applied"]["lake_records"] == 8 and out["applied"]["rejects_files"] == 1
    after = _state(home)
    _assert_retained(after, before)
    rows = _audit_rows(home)
    assert len(rows) == 1
    assert OLD in rows[0].reason and "authorised by dpo-li" in rows[0].reason and "3 consent events" in rows[0].reason
    assert rows[0].subject_msisdn_pseudonym is None and PLAIN not in rows[0].reason
    lake = sorted((str(p.relative_to(home)), p.stat().st_mtime_ns) for p in (home / "lake").rglob("*.parquet"))

    again = _ft(home, "retention", "apply", "--by", "dpo-li")
    assert again["applied"]["lake_records"] == 0 and again["usage_detail"]["records"] == 0
    assert again["consent"]["events"] == 0 and again["conversations"]["tickets"] == 0
    assert _state(home) == after
    assert sorted((str(p.relative_to(home)), p.stat().st_mtime_ns) for p in (home / "lake").rglob("*.parquet")) == lake
    rows = _audit_rows(home)
    assert len(rows) == 2 and "removes nothing past its retention period" in rows[1].reason


def test_apply_cut_short_is_finished_by_the_next_run(built: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    home = _copy(built, tmp_path)
    before = _state(home)
    written = {"n": 0}
    real = Lake.write

    def dies_on_second_part(self: Lake, *args: Any, **kwargs: Any) -> Path:
        if written["n"] == 1:
            raise KeyboardInterrupt  # the process killed between two parts
        written["n"] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Lake, "write", dies_on_second_part)
    cut = runner.invoke(cli, ["retention", "apply", "--by", "dpo-li", "--home", str(home), "--json"],
                        env={"FAIRTEL_CONFIG": os.devnull})
    assert cut.exit_code != 0
    half = _state(home)
    assert half["usage"][OLD] == [DISPUTED, DISPUTED] and half["rated"][OLD] == before["rated"][OLD]  # one part done
    monkeypatch.setattr(Lake, "write", real)
    _ft(home, "retention", "apply", "--by", "dpo-li")
    _assert_retained(_state(home), before)
    rows = _audit_rows(home)
    assert len(rows) == 2 and OLD in rows[1].reason and "consent events of 1 subscriptions" in rows[1].reason
    assert "3 consent events" not in rows[1].reason  # the rest, recorded


def test_a_closed_complaint_does_not_keep_the_detail(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.begin() as conn:
            from fairtel.store._schema import Complaint

            c = table_of(Complaint)
            conn.execute(c.update().values(lifecycle="closed", status="closed", closed_at=NOW))
    finally:
        app.close()
    _ft(home, "retention", "apply", "--by", "dpo-li")
    assert _lines(home, "usage", OLD) == [] and _lines(home, "rated", OLD) == []
    assert len(_lines(home, "billed", OLD)) == 6


def test_usage_rated_after_the_bill_run_stays_until_billed(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    late = tmp_path / "late.jsonl"
    late.write_text(json.dumps({"record_id": "late-1", "source": "msc", "msisdn": PLAIN, "kind": "voice",
                                "direction": "out", "started_at": f"{OLD}-20T10:00:00+08:00", "duration_s": 60,
                                "peer": "8613811112222"}) + "\n", encoding="utf-8")
    _ft(home, "ingest", str(late))
    _ft(home, "rate", "--period", OLD)  # the late record is rated; no bill run's snapshot holds it
    plan = _ft(home, "retention", "plan")
    assert plan["usage_detail"]["periods"][0]["records"] == {"usage": 4, "rated": 4, "unrated": 0}
    _ft(home, "retention", "apply", "--by", "dpo-li")
    assert _lines(home, "usage", OLD) == sorted([PLAIN, DISPUTED, DISPUTED]) == _lines(home, "rated", OLD)
    kept = [r for f in Lake(home / "lake").files("usage", periods=[OLD])
            for r in pq.read_table(f, columns=["record_id"]).column("record_id").to_pylist()]
    assert sorted(kept) == sorted(["late-1", f"r2-{OLD}-3", f"r2-{OLD}-4"])


def test_usage_written_off_goes_with_the_rest(built: Path, tmp_path: Path) -> None:
    """A record no bill holds stays while it may still be billed; once written off (`fairtel bill release
    --write-off`: its decision in the access audit) it never will be, and retention removes it with the period's
    other detail (it was kept for ever)."""
    from fairtel.store import access_row
    from fairtel.store._retention import HELD_WRITE_OFF_ACTION, held_decision_resource

    home = _copy(built, tmp_path)
    late = tmp_path / "late.jsonl"
    late.write_text(json.dumps({"record_id": "late-1", "source": "msc", "msisdn": PLAIN, "kind": "voice",
                                "direction": "out", "started_at": f"{OLD}-20T10:00:00+08:00", "duration_s": 60,
                                "peer": "8613811112222"}) + "\n", encoding="utf-8")
    _ft(home, "ingest", str(late))
    _ft(home, "rate", "--period", OLD)
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        conn.execute(table_of(AccessAudit).insert().values(**access_row(
            actor="ops", role="fraud_analyst", action=HELD_WRITE_OFF_ACTION,
            resource=held_decision_resource(OLD, "msc", "late-1"))))
    app.close()
    plan = _ft(home, "retention", "plan")
    assert plan["usage_detail"]["periods"][0]["records"] == {"usage": 5, "rated": 5, "unrated": 0}
    _ft(home, "retention", "apply", "--by", "dpo-li")
    kept = [r for f in Lake(home / "lake").files("usage", periods=[OLD])
            for r in pq.read_table(f, columns=["record_id"]).column("record_id").to_pylist()]
    assert sorted(kept) == sorted([f"r2-{OLD}-3", f"r2-{OLD}-4"])
