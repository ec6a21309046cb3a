"""`fairtel care complaint-*`, `care escalate`, `care close` and the SLA figures of `fairtel kpi` on a home
(SQLite)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import Adjustment, access_log, import_subscribers
from fairtel.store._schema import table_of

runner = CliRunner()
LINE = "8613800138000"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    fapp = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    f"{LINE},c1,basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with fapp.db.begin() as conn:
        import_subscribers(conn, subs)
        conn.execute(insert(table_of(Adjustment)).values(
            adjustment_id="adj_1", kind="refund", msisdn=LINE, amount_minor=600, currency="CNY", reason="unconsented",
            created_at=datetime(2026, 3, 1, tzinfo=UTC), created_by="assure"))
    fapp.db.dispose()
    return home


def care(home: Path, *args: str, code: int = 0) -> Any:
    res = runner.invoke(app, ["care", *args, "--home", str(home), "--json"])
    assert res.exit_code == code, res.output
    return json.loads(res.stdout)


def _complain(home: Path, text: str = "扣了我6元不知道什么业务") -> str:
    out = care(home, "complain", "--msisdn", LINE, "--text", text, "--category", "unexplained_charge")
    return str(out["complaint_id"])


def test_lifecycle_through_the_cli(home: Path) -> None:
    cid = _complain(home)
    assert care(home, "complaint-ack", cid, "--note", "called back")["status"] == "acknowledged"
    out = care(home, "complaint-resolve", cid, "--note", "refunded 6.00", "--refund", "adj_1", "--by", "desk-7")
    assert (out["status"], out["store_status"], out["adjustment_id"]) == ("resolved", "closed", "adj_1")
    assert care(home, "complaint-close", cid)["status"] == "closed"
    history = care(home, "complaint-history", cid)
    assert [(e["seq"], e["status"]) for e in history["history"]] == [(1, "opened"), (2, "acknowledged"), (3, "resolved"), (4, "closed")]
    assert history["history"][2]["actor"] == "desk-7" and history["history"][2]["note"] == "refunded 6.00"
    assert care(home, "complaint-reopen", cid, "--note", "charged again")["status"] == "reopened"
    # the old verb still closes, through the lifecycle
    closed = care(home, "close", cid)
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert care(home, "complaints")[0]["lifecycle"] == "closed"
    fapp = bootstrap(load_settings(home=home))
    with fapp.db.connect() as conn:
        actions = [r.action for r in access_log(conn)]
    fapp.db.dispose()
    assert actions.count("complaint.create") == 1 and "complaint.resolve" in actions and "complaint.history" in actions


def test_wrong_moves_are_conflicts(home: Path) -> None:
    cid = _complain(home)
    care(home, "complaint-close", cid)
    err = care(home, "complaint-ack", cid, code=2)["error"]
    assert err["code"] == "conflict" and "closed: cannot become acknowledged" in err["message"]
    assert care(home, "close", cid, code=2)["error"]["code"] == "conflict"  # closed already, as before
    assert care(home, "complaint-resolve", "cmp_nope", "--note", "x", code=2)["error"]["code"] == "not_found"
    other = _complain(home)
    assert care(home, "complaint-ack", other, "--by", "x")["status"] == "acknowledged"
    assert care(home, "complaint-resolve", other, "--note", "x", "--refund", "adj_missing", code=2)["error"]["code"] == "not_found"


def test_escalate_overdue_imported_complaints(home: Path, tmp_path: Path) -> None:
    src = tmp_path / "complaints.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in [
        {"complaint_id": "c-late", "msisdn": LINE, "at": "2026-03-02T09:00:00+08:00", "category": "vas", "text": "6 yuan"},
        {"complaint_id": "c-new", "msisdn": LINE, "at": "2026-03-04T08:00:00+08:00", "category": "network", "text": "no signal"},
    ]) + "\n", encoding="utf-8")
    assert care(home, "import-complaints", str(src))["inserted"] == 2
    out = care(home, "escalate", "--now", "2026-03-04T10:00:00+08:00")
    assert [(e["complaint_id"], e["from_level"], e["to_level"]) for e in out["escalated"]] == [("c-late", 0, 1)]
    assert care(home, "escalate", "--now", "2026-03-04T10:00:00+08:00")["escalated"] == []
    out = care(home, "escalate", "--now", "2026-03-06T10:00:00+08:00")
    assert sorted((e["complaint_id"], e["to_level"]) for e in out["escalated"]) == [("c-late", 2), ("c-new", 1)]
    history = care(home, "complaint-history", "c-late")
    assert history["escalation_level"] == 2
    assert [e["kind"] for e in history["history"]] == ["status", "escalation", "escalation"]
    assert care(home, "escalate", "--now", "yesterday", code=2)["error"]["code"] == "input_invalid"


def test_kpi_sla_follows_the_lifecycle_and_keeps_its_keys(home: Path) -> None:
    in_time, reopened, still_open = _complain(home), _complain(home), _complain(home)
    care(home, "complaint-resolve", in_time, "--note", "refunded")
    care(home, "complaint-resolve", reopened, "--note", "explained")
    care(home, "complaint-reopen", reopened, "--note", "not satisfied")
    opened_at = datetime.fromisoformat(care(home, "complaint-history", still_open)["opened_at"])
    period = Period.containing(opened_at, load_settings(home=home).timezone).key
    res = runner.invoke(app, ["kpi", "--period", period, "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    # three complaints, four terms: the reopened one was resolved in time, then reopened (a new term, open)
    assert report["sla"] == {"resolved": 2, "resolved_in_time": 2, "attainment": "1.0000", "open": 2, "open_overdue": 0}
    assert report["complaints"]["total"] == 3
    assert {"period", "subscribers", "complaints", "sla", "nps", "assistant", "charges", "rating_timeliness", "notes"} <= set(report)


def test_kpi_counts_the_lines_in_service_during_the_month(home: Path) -> None:
    """The per-million denominator of March 2026: the line of the home, and a line closed in April (in service in
    March); not a line closed in February, one closed when not known, nor one activated in April."""
    from fairtel.store import Customer, Subscriber

    fapp = bootstrap(load_settings(home=home))
    at = datetime(2025, 1, 1, tzinfo=UTC)
    with fapp.db.begin() as conn:
        conn.execute(insert(table_of(Customer)).values(customer_id="c2", created_at=at))
        conn.execute(insert(table_of(Subscriber)), [
            {"msisdn": m, "customer_id": "c2", "plan_id": "basic-39", "activated_at": activated, "status": status,
             "language": "zh", "region": None, "updated_at": at, "closed_at": closed}
            for m, activated, status, closed in (
                ("8613800138101", at, "closed", datetime(2026, 4, 2, tzinfo=UTC)),
                ("8613800138102", at, "closed", datetime(2026, 2, 2, tzinfo=UTC)),
                ("8613800138103", at, "closed", None),
                ("8613800138104", datetime(2026, 4, 2, tzinfo=UTC), "active", None))])
    fapp.db.dispose()
    res = runner.invoke(app, ["kpi", "--period", "2026-03", "--home", str(home), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["subscribers"] == 2
