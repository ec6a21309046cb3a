"""`fairtel retention` covers the personal data it used to leave behind: the words of settled complaints, old
survey comments, old outbox messages, old decided fraud cases, an old retention call list and the bill run's
snapshot detail of old periods. What the KPIs need stays (the complaint row, the survey score), a line with a
matter open keeps everything, each run is recorded, and a second run removes nothing more."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.integration.test_cli_gap_retention import (
    DISPUTED,
    NOW,
    OLD,
    PLAIN,
    _audit_rows,
    _copy,
    _ft,
    _home,
    _lines,
)
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app as cli
from fairtel.core.settings import RetentionSettings, load_settings
from fairtel.store._complaints import open_complaint
from fairtel.store._retention import COMPLAINT_REMOVED, months_before
from fairtel.store._retention import rewrite_lines as _rewrite
from fairtel.store._schema import Complaint, Survey, table_of

runner = CliRunner()
WORDS = "they charged 13911112222 twice, call me back"


def _words(home: Path) -> dict[str, Any]:
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.connect() as conn:
            c, s = table_of(Complaint), table_of(Survey)
            return {
                "complaints": {r.complaint_id: (r.text, r.category, r.lifecycle, r.closed_at is not None)
                               for r in conn.execute(select(c))},
                "surveys": {r.survey_id: (r.score, r.comment) for r in conn.execute(select(s))},
            }
    finally:
        app.close()


def _message(mid: str, msisdn: str, days_ago: int) -> str:
    return json.dumps({"message_id": mid, "msisdn": msisdn, "language": "en", "kind": "bill_shock",
                       "text": f"code 4711, call 13911112222 ({mid})", "finding_id": None,
                       "created_at": (NOW - timedelta(days=days_ago)).isoformat()})


def _case(cid: str, subject: str, months_ago: int, related: tuple[str, ...] = ()) -> str:
    return json.dumps({"case_id": cid, "detector": "irsf", "subject": subject, "subject_kind": "line",
                       "period": OLD, "score": 0.9, "evidence": {"called": ["88216000001"]}, "reasons": [],
                       "related": list(related), "opened_at": months_before(NOW, months_ago + 1).isoformat()},
                      sort_keys=True)


def _decision(cid: str, months_ago: int, outcome: str = "confirmed") -> str:
    return json.dumps({"decision_id": f"d-{cid}", "case_id": cid, "outcome": outcome, "by": "analyst",
                       "at": months_before(NOW, months_ago).isoformat(), "note": None, "suspend": False})


def _with_words(root: Path) -> Path:
    home = _home(root)
    app = bootstrap(load_settings(home=home))
    try:
        with app.db.begin() as conn:
            c = table_of(Complaint)
            for cid, msisdn, settled in (("cmp-old", PLAIN, months_before(NOW, 14)),
                                         ("cmp-recent", PLAIN, months_before(NOW, 1)),
                                         ("cmp-disputed-old", DISPUTED, months_before(NOW, 14))):
                open_complaint(conn, msisdn=msisdn, category="unexplained_charge", text=WORDS,
                               at=settled - timedelta(days=3), audit=None, complaint_id=cid)
                conn.execute(c.update().where(c.c.complaint_id == cid)
                             .values(lifecycle="closed", status="closed", closed_at=settled))
            s = table_of(Survey)
            for sid, msisdn, answered in (("srv-old", PLAIN, months_before(NOW, 14)),
                                          ("srv-recent", PLAIN, months_before(NOW, 1)),
                                          ("srv-disputed", DISPUTED, months_before(NOW, 14))):
                conn.execute(s.insert().values(survey_id=sid, msisdn=msisdn, score=3, answered_at=answered,
                                               channel="sms", comment="slow data near 13911112222"))
    finally:
        app.close()
    outbox = home / "outbox"
    outbox.mkdir(exist_ok=True)
    (outbox / "messages.jsonl").write_text("\n".join([
        _message("m-old", PLAIN, 200), _message("m-disputed", DISPUTED, 200), _message("m-recent", PLAIN, 5),
        "not a message"]) + "\n", encoding="utf-8")
    listed = outbox / "retention.csv"
    listed.write_text("msisdn,score\n8613900000001,0.9\n8613900000003,0.8\n", encoding="utf-8")
    past = time.time() - 40 * 86400
    os.utime(listed, (past, past))
    fraud = home / "fraud"
    fraud.mkdir(exist_ok=True)
    (fraud / "cases.jsonl").write_text("\n".join([
        _case("case-old", PLAIN, 30), _case("case-recent", PLAIN, 2), _case("case-open", PLAIN, 30),
        _case("case-related", "8613900000009", 30, related=(DISPUTED,))]) + "\n", encoding="utf-8")
    (fraud / "decisions.jsonl").write_text("\n".join([
        _decision("case-old", 30), _decision("case-recent", 2, "false_alarm"),
        _decision("case-related", 30)]) + "\n", encoding="utf-8")
    return home


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _with_words(tmp_path_factory.mktemp("retention-words"))


def test_plan_counts_each_new_kind_and_changes_nothing(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    before = (_words(home), (home / "outbox" / "messages.jsonl").read_bytes(),
              (home / "fraud" / "cases.jsonl").read_bytes())
    plan = _ft(home, "retention", "plan")
    assert plan["complaints"]["complaints"] == 1 and plan["complaints"]["kept_for_open_matters"] == 1
    assert plan["survey_comments"]["comments"] == 1 and plan["survey_comments"]["kept_for_open_matters"] == 1
    assert plan["outbox"]["messages"] == 1 and plan["outbox"]["kept_for_open_matters"] == 1
    assert plan["fraud_cases"]["cases"] == 1 and plan["fraud_cases"]["kept_for_open_matters"] == 1
    assert plan["retention_list"] == {"files": 1, "rows": 2, "written": plan["retention_list"]["written"]}
    assert plan["billed_snapshot"]["records"] == 0  # OLD ended 9 months ago: within the 12 billed months
    assert PLAIN not in json.dumps(plan) and DISPUTED not in json.dumps(plan)
    after = (_words(home), (home / "outbox" / "messages.jsonl").read_bytes(),
             (home / "fraud" / "cases.jsonl").read_bytes())
    assert after == before and (home / "outbox" / "retention.csv").exists() and _audit_rows(home) == []


def test_apply_removes_the_words_keeps_what_the_kpis_need_and_is_idempotent(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    out = _ft(home, "retention", "apply", "--by", "dpo-li")
    applied = out["applied"]
    assert (applied["outbox_messages"], applied["fraud_cases"], applied["retention_lists"]) == (1, 1, 1)
    words = _words(home)
    assert words["complaints"]["cmp-old"] == (COMPLAINT_REMOVED, "unexplained_charge", "closed", True)
    assert words["complaints"]["cmp-recent"][0] == WORDS
    assert words["complaints"]["cmp-disputed-old"][0] == WORDS  # its line has a complaint open
    assert words["surveys"] == {"srv-old": (3, None), "srv-recent": (3, "slow data near 13911112222"),
                                "srv-disputed": (3, "slow data near 13911112222")}
    messages = (home / "outbox" / "messages.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(m)["message_id"] for m in messages[:-1]] == ["m-disputed", "m-recent"]
    assert messages[-1] == "not a message"  # what is not a message is not retention's to judge
    cases = [json.loads(c)["case_id"] for c in (home / "fraud" / "cases.jsonl").read_text().splitlines()]
    assert cases == ["case-recent", "case-open", "case-related"]
    assert len((home / "fraud" / "decisions.jsonl").read_text().splitlines()) == 3
    assert not (home / "outbox" / "retention.csv").exists()
    assert not [p for p in home.rglob("*.retention.tmp")]
    rows = _audit_rows(home)
    assert len(rows) == 1 and "cmp-old" in rows[0].reason and "case-old" in rows[0].reason
    assert "1 outbox messages" in rows[0].reason and "the comments of 1 survey answers" in rows[0].reason
    assert PLAIN not in rows[0].reason

    files = {p: p.stat().st_mtime_ns for p in (home / "outbox", home / "fraud") for p in p.iterdir()}
    again = _ft(home, "retention", "apply", "--by", "dpo-li")
    assert again["complaints"]["complaints"] == again["survey_comments"]["comments"] == 0
    assert again["outbox"]["messages"] == again["fraud_cases"]["cases"] == again["retention_list"]["files"] == 0
    assert _words(home) == words
    assert {p: p.stat().st_mtime_ns for p in (home / "outbox", home / "fraud") for p in p.iterdir()} == files
    assert "removes nothing past its retention period" in _audit_rows(home)[1].reason


def test_the_bill_snapshot_detail_goes_after_billed_months(built: Path, tmp_path: Path) -> None:
    home = _copy(built, tmp_path)
    env = {"FAIRTEL_CONFIG": os.devnull, "FAIRTEL_RETENTION": json.dumps({"billed_months": 8})}
    before = _lines(home, "billed", OLD)
    assert PLAIN in before and DISPUTED in before
    result = runner.invoke(cli, ["retention", "plan", "--home", str(home), "--json"], env=env)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["billed_snapshot"]
    kept = before.count(DISPUTED)
    assert plan["records"] == len(before) - kept and plan["kept"] == [{"period": OLD, "records": kept}]
    result = runner.invoke(cli, ["retention", "apply", "--by", "dpo-li", "--home", str(home), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["applied"]["snapshot_records"] == len(before) - kept
    assert _lines(home, "billed", OLD) == [DISPUTED] * kept  # the line with a complaint open keeps its snapshot
    assert _lines(home, "usage", OLD) == [DISPUTED, DISPUTED]
    again = runner.invoke(cli, ["retention", "apply", "--by", "dpo-li", "--home", str(home), "--json"], env=env)
    assert json.loads(again.stdout)["applied"]["snapshot_records"] == 0


def test_billed_months_never_comes_before_the_usage_detail() -> None:
    from fairtel.store._retention import snapshot_horizon

    policy = RetentionSettings(usage_months=18, billed_months=12)
    assert snapshot_horizon(NOW, policy) == months_before(NOW, 18)
    assert RetentionSettings().billed_months == 12 and RetentionSettings().outbox_days == 90


def test_a_rewrite_keeps_what_a_writer_appended_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_text(_message("m-old", PLAIN, 200) + "\n", encoding="utf-8")
    (tmp_path / ".messages.jsonl.1.retention.tmp").write_text("left by a killed run", encoding="utf-8")
    seen = {"n": 0}

    def goes(line: bytes) -> bool:
        seen["n"] += 1
        if seen["n"] == 1:  # a send appends while retention reads
            with path.open("a", encoding="utf-8") as fh:
                fh.write(_message("m-new", PLAIN, 0) + "\n")
        return bool(json.loads(line)["message_id"] == "m-old")

    assert _rewrite(path, goes) == 1
    assert [json.loads(m)["message_id"] for m in path.read_text().splitlines()] == ["m-new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["messages.jsonl"]


def test_the_words_go_on_both_databases_with_the_ledgers_guarded(engine: Any) -> None:
    """complaints.text and surveys.comment are no ledger: their update goes through on SQLite and PostgreSQL with
    migration 0021's triggers in place, and the complaint's history (``complaint_events``) is left as it was."""
    from tests.integration.test_store_gap_append_only_ledgers import LINE, T, _seed

    from fairtel.store import metadata
    from fairtel.store._retention import RetentionPlan, apply_in_database

    _seed(engine)
    t = metadata.tables
    with engine.begin() as conn:
        conn.execute(t["complaints"].update().values(lifecycle="closed", status="closed", closed_at=T))
        conn.execute(t["surveys"].insert().values(survey_id="srv-1", msisdn=LINE, score=9, answered_at=T,
                                                  channel="sms", comment="fast"))
    plan = RetentionPlan(now=NOW, policy=RetentionSettings(), open_matters={}, detail=(), waiting=(), rejects=(),
                         consent={}, consent_events=0, tickets={}, ticket_notes=0,
                         complaints={"cmp-1": T}, surveys={"srv-1": T})
    with engine.begin() as conn:
        apply_in_database(conn, plan)
    with engine.connect() as conn:
        assert conn.execute(select(t["complaints"].c.text, t["complaints"].c.category)).one() == (
            COMPLAINT_REMOVED, "unexplained_charge")
        assert conn.execute(select(t["surveys"].c.score, t["surveys"].c.comment)).one() == (9, None)
        assert conn.execute(select(t["complaint_events"].c.status)).scalars().all() == ["opened"]
