"""The month's detractors to call back (``fairtel care detractors``) and whom to ask for an answer after a complaint
(``fairtel care surveys-due``).

Before: nothing listed detractors (``care.surveys_due`` existed and nothing called it), so no one could call
them back, check the line against its refusal of marketing, or see its open complaints."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.api._marketing import PREFERENCES
from fairtel.bootstrap import App, bootstrap
from fairtel.care._surveys import SurveyAnswer, detractor_answers, nps, respondent_scores
from fairtel.cli import app
from fairtel.core.settings import load_settings
from fairtel.store import AccessAudit, Survey, TroubleTicket, import_subscribers, open_complaint
from fairtel.store._schema import table_of

runner = CliRunner()
# A answers 5 (an open complaint, an open ticket), B 2 and refuses marketing, C 0 on a line closed since,
# D 3 then 8 (a passive: not listed), E never answers (a complaint resolved: due a survey)
A, B, C, D, E = "8613800000001", "8613800000002", "8613800000003", "8613800000004", "8613800000005"
ID_NUMBER = "110101199003071234"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _app(home: Path) -> App:
    return bootstrap(load_settings(home=home))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at\n"
                    + "".join(f"{m},c{m[-1]},payg,2025-01-01T00:00:00+08:00,active,zh,sh,\n" for m in (A, B, D, E))
                    + f"{C},c3,payg,2025-01-01T00:00:00+08:00,closed,zh,sh,2026-10-20T00:00:00+08:00\n", encoding="utf-8")
    answers = [
        ("s-a", A, 5, "2026-10-03T10:00:00+08:00", "sms", f"打了好几次 13912345678 也没人管，身份证 {ID_NUMBER}"),
        ("s-a0", A, 1, "2026-09-30T23:30:00+08:00", "sms", None),  # September's: not this month's
        ("s-b", B, 2, "2026-10-01T00:30:00+08:00", "app", None),  # 16:30Z on Sept 30: October in Shanghai
        ("s-c", C, 0, "2026-10-05T10:00:00+08:00", "sms", None),
        ("s-d1", D, 3, "2026-10-02T10:00:00+08:00", "app", None),
        ("s-d2", D, 8, "2026-10-09T10:00:00+08:00", "app", None),
    ]
    with _app(home) as fapp, fapp.db.begin() as conn:
        import_subscribers(conn, subs)
        conn.execute(table_of(Survey).insert(), [
            {"survey_id": s, "msisdn": m, "score": n, "answered_at": _at(t), "channel": ch, "comment": c}
            for s, m, n, t, ch, c in answers])
        conn.execute(PREFERENCES.insert().values(pref_id="mkt_1", msisdn=B, opted_out=True, changed_at=_at("2026-08-01T00:00:00+00:00"),
                                                 channel="phone", source="agent", changed_by="agent1"))
        for m in (A, E):
            open_complaint(conn, msisdn=m, category="billing", text="账单不对", at=_at("2026-10-02T09:00:00+08:00"), audit=None,
                           complaint_id=f"cmp-{m[-1]}")
        conn.execute(table_of(TroubleTicket).insert().values(
            ticket_id="tt-1", msisdn=A, region="sh", category="no_signal", priority=2, status="open",
            opened_at=_at("2026-10-02T09:00:00+08:00"), resolved_at=None, summary="没信号"))
    return home


def _cli(home: Path, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == code, result.output
    return result


def _audit(home: Path, action: str) -> list[Any]:
    t = table_of(AccessAudit)
    with _app(home) as fapp, fapp.db.connect() as conn:
        return list(conn.execute(select(t).where(t.c.action == action)))


def test_the_detractors_are_those_nps_counts() -> None:
    rows = [SurveyAnswer("x1", A, 6, _at("2026-10-03T10:00:00+08:00"), "sms"),
            SurveyAnswer("x2", B, 2, _at("2026-10-04T10:00:00+08:00"), "sms"),
            SurveyAnswer("x3", C, 2, _at("2026-10-02T10:00:00+08:00"), "sms"),
            SurveyAnswer("x4", D, 0, _at("2026-10-01T10:00:00+08:00"), "sms"),
            SurveyAnswer("x5", D, 9, _at("2026-10-08T10:00:00+08:00"), "sms")]
    found = detractor_answers(rows)
    assert [a.survey_id for a in found] == ["x3", "x2", "x1"]  # the lowest score first, then the earliest
    assert len(found) == nps(respondent_scores(rows)).detractors


def test_the_months_detractors_with_their_open_cases_and_refusal(home: Path) -> None:
    out = json.loads(_cli(home, "care", "detractors", "--period", "2026-10", "--json").stdout)
    assert out["period"] == "2026-10" and out["respondents"] == 4
    listed = [(r["msisdn"], r["score"]) for r in out["detractors"]]
    assert listed == [(B, 2), (A, 5)]  # D's latest is 8: a passive; C's line is closed: apart
    b, a = out["detractors"]
    assert b["marketing_refused"] is True and a["marketing_refused"] is False  # listed all the same: no offer to B
    assert (a["open_complaints"], a["open_tickets"]) == (1, 1) and (b["open_complaints"], b["open_tickets"]) == (0, 0)
    assert a["answered_at"].endswith("+08:00") and b["answered_at"].startswith("2026-10-01T00:30")
    assert ID_NUMBER not in a["comment"] and "13912345678" not in a["comment"] and "139****5678" in a["comment"]
    assert [(r["msisdn"], r["line_status"]) for r in out["apart"]] == [(C, "closed")]
    rows = _audit(home, "survey.detractors")
    assert len(rows) == 3 and all(r.subject_msisdn_pseudonym and A not in r.subject_msisdn_pseudonym for r in rows)
    assert "3 detractors of 2026-10" in rows[0].reason


def test_the_list_as_csv_and_its_audit_names_the_file(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "detractors.csv"
    out = json.loads(_cli(home, "care", "detractors", "--period", "2026-10", "--csv", str(target), "--json").stdout)
    assert (out["detractors"], out["apart"]) == (2, 1) and A not in json.dumps(out)
    with target.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["msisdn"], r["marketing_refused"], r["line_status"]) for r in rows] == [
        (B, "true", "active"), (A, "false", "active"), (C, "false", "closed")]
    assert all(str(target) in r.reason for r in _audit(home, "survey.detractors"))


def test_a_month_without_detractors_lists_none_and_audits_nothing(home: Path) -> None:
    out = json.loads(_cli(home, "care", "detractors", "--period", "2026-08", "--json").stdout)
    assert (out["respondents"], out["detractors"], out["apart"]) == (0, [], [])
    assert _audit(home, "survey.detractors") == []
    _cli(home, "care", "detractors", "--period", "2026-13", "--json", code=2)


def test_surveys_due_after_a_resolved_complaint(home: Path) -> None:
    for cid in ("cmp-1", "cmp-5"):
        _cli(home, "care", "complaint-resolve", cid, "--note", "已退费")
    out = json.loads(_cli(home, "care", "surveys-due", "--since", "2026-10-01T00:00:00+08:00", "--json").stdout)
    assert [(r["complaint_id"], r["msisdn"]) for r in out["due"]] == [("cmp-5", E)]  # A answered since
    assert len(_audit(home, "survey.due")) == 1
    _cli(home, "care", "surveys-due", "--since", "yesterday", "--json", code=2)
