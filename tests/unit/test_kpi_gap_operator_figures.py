"""Service KPIs against the operators' definitions: the year-to-date appeal rate divides by the lines in service
at the period's end (the user base "截至…年底" figures are published over); `fairtel kpi` puts no yearly appeal
target beside a month's complaints; an operator's complaints file may give each complaint's outcome, and a
complaint whose outcome is not known is counted apart from SLA attainment, not judged missed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.unit.test_kpi_gap_complaint_categories import home  # noqa: F401  (the fixture)
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.cli import app
from fairtel.cli._care import import_complaints
from fairtel.core.errors import InvalidInputError
from fairtel.core.settings import load_settings
from fairtel.kpi import ComplaintFact, KpiInputs, LineFact, compute_kpis, lines_in_service_at, sla_attainment
from fairtel.store import get_complaint

SH = ZoneInfo("Asia/Shanghai")
runner = CliRunner()


def test_lines_in_service_at_an_instant() -> None:
    end = datetime(2026, 11, 1, tzinfo=SH)
    lines = [
        LineFact(datetime(2025, 1, 1, tzinfo=UTC), "active"),
        LineFact(datetime(2025, 1, 1, tzinfo=UTC), "suspended"),
        LineFact(datetime(2025, 1, 1, tzinfo=UTC), "closed", datetime(2026, 9, 15, tzinfo=SH)),  # gone before
        LineFact(datetime(2025, 1, 1, tzinfo=UTC), "closed", end),  # closed at the instant: still counted
        LineFact(datetime(2025, 1, 1, tzinfo=UTC), "closed"),  # closing not known: gone
        LineFact(end, "active"),  # activated at the instant: not yet
    ]
    assert lines_in_service_at(lines, end) == 3


def test_the_year_to_date_appeal_rate_divides_by_the_lines_at_the_months_end(home: Path) -> None:  # noqa: F811
    res = runner.invoke(app, ["kpi", "complaints", "--period", "202603", "--json", "--lang", "en", "--home", str(home)])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    # lines in service in March: 001 and 003; at March's end the same two (002 closed in February)
    assert (d["subscribers"], d["year_subscribers"]) == (2, 2)
    assert "end of the month" in d["denominators"]["year_subscribers"]
    assert "some time in the month" in d["denominators"]["subscribers"]
    t = d["total"]
    # the year's appeals k-vas and k-mal: 2 x 1e6 / 2
    assert (t["year_appeals"], t["year_appeals_per_million"]) == (2, "1000000.00")
    rows = {c["category"]: c for c in d["categories"]}
    assert rows["unexplained_charge"]["year_appeals_per_million"] == "500000.00"
    zh = runner.invoke(app, ["kpi", "complaints", "--period", "202603", "--home", str(home)])
    assert zh.exit_code == 0, zh.output
    title = " ".join(zh.stdout.split())
    assert "月内曾在网用户 2" in title and "月末在网用户 2" in title and "年累计在网用户" not in title


def _month_kpis(where: Path, period: str = "2026-09") -> tuple[dict[str, object], str]:
    j = runner.invoke(app, ["kpi", "--period", period, "--json", "--home", str(where)])
    assert j.exit_code == 0, j.output
    t = runner.invoke(app, ["kpi", "--period", period, "--home", str(where)])
    assert t.exit_code == 0, t.output
    return json.loads(j.stdout), " ".join(t.stdout.split())


def _complaint(cid: str, **kw: object) -> str:
    row = {"complaint_id": cid, "msisdn": "8613800000001", "at": "2026-09-03T10:00:00+08:00",
           "category": "vas", "channel": "hotline", "text": "不认识这笔扣费"} | kw
    return json.dumps(row, ensure_ascii=False)


def test_a_months_complaints_are_not_set_beside_the_yearly_appeal_target(tmp_path: Path) -> None:
    where = tmp_path / "home"
    fapp = bootstrap(load_settings(home=where))
    path = tmp_path / "complaints.jsonl"
    path.write_text(_complaint("op-1", resolved_at="2026-09-03T11:00:00+08:00") + "\n", encoding="utf-8")
    import_complaints(fapp, path)
    fapp.close()
    d, text = _month_kpis(where)
    complaints = d["complaints"]
    assert isinstance(complaints, dict) and complaints["unexplained_charge"] == 1
    assert "unexplained_charge_reference_per_million" not in complaints
    assert "0.78" not in text and "reference" not in text


def test_the_outcome_an_operators_file_gives_is_stored_and_judged(tmp_path: Path) -> None:
    where = tmp_path / "home"
    fapp = bootstrap(load_settings(home=where))
    path = tmp_path / "complaints.jsonl"
    path.write_text("\n".join([
        _complaint("op-1", resolved_at="2026-09-03T11:00:00+08:00"),  # settled in an hour: in time
        _complaint("op-2", status="closed", closed_at="2026-09-25T10:00:00+08:00"),  # three weeks: late
        _complaint("op-3", closed_at="2026-09-04T10:00:00+08:00"),  # the instant alone: closed
    ]) + "\n", encoding="utf-8")
    assert import_complaints(fapp, path) == {"read": 3, "inserted": 3, "duplicate": 0}
    with fapp.db.connect() as conn:
        one, two, three = (get_complaint(conn, c) for c in ("op-1", "op-2", "op-3"))
    fapp.close()
    assert (one.status, one.closed_at) == ("resolved", datetime(2026, 9, 3, 3, 0, tzinfo=UTC))
    assert [e.status for e in one.history] == ["opened", "resolved"]
    assert (two.status, three.status) == ("closed", "closed")
    d, text = _month_kpis(where)
    sla = d["sla"]
    assert isinstance(sla, dict)
    assert (sla["resolved"], sla["resolved_in_time"], sla["open_overdue"]) == (3, 2, 0)
    assert sla["attainment"] == "0.6667"
    assert "2 of 3 resolved" in text


@pytest.mark.parametrize(("extra", "field"), [
    ({"status": "resolved"}, "resolved_at"),  # settled, but when?
    ({"resolved_at": "2026-09-02T10:00:00+08:00"}, "resolved_at"),  # before the complaint was made
    ({"status": "solved", "resolved_at": "2026-09-04T10:00:00+08:00"}, "status"),
    ({"status": "open", "closed_at": "2026-09-04T10:00:00+08:00"}, "closed_at"),
    ({"closed_at": "next week"}, "closed_at"),
])
def test_an_outcome_that_does_not_hold_is_refused_naming_line_and_field(tmp_path: Path, extra: dict[str, str],
                                                                       field: str) -> None:
    fapp = bootstrap(load_settings(home=tmp_path / "home"))
    path = tmp_path / "complaints.jsonl"
    path.write_text(_complaint("op-0") + "\n" + _complaint("op-1", **extra) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        import_complaints(fapp, path)
    fapp.close()
    assert [(p.line, p.field) for p in err.value.problems] == [(2, field)]


def test_a_complaint_without_a_known_outcome_is_not_judged() -> None:
    opened = datetime(2026, 9, 3, 10, 0, tzinfo=SH)
    now = opened + timedelta(days=60)
    facts = [
        ComplaintFact("known", "vas", "hotline", opened, closed_at=opened + timedelta(hours=1)),
        ComplaintFact("unknown-1", "vas", "hotline", opened, outcome_known=False),
        ComplaintFact("unknown-2", "vas", "hotline", opened, outcome_known=False),
    ]
    sla = sla_attainment(facts, now)
    assert (sla["resolved"], sla["resolved_in_time"], sla["open_overdue"], sla["open"]) == (1, 1, 0, 0)
    assert (sla["attainment"], sla["outcome_unknown"]) == ("1.0000", 2)
    report = compute_kpis(KpiInputs(period="2026-09", subscribers=10, now=now, complaints=facts, timeliness=[]))
    assert report.sla == sla
    assert any("2 complaint term(s)" in n and "left out of SLA attainment" in n for n in report.notes)
    # the complaints still count as complaints of the month
    assert report.complaints["total"] == 3


def test_imported_complaints_without_an_outcome_are_left_out_of_attainment(tmp_path: Path) -> None:
    where = tmp_path / "home"
    fapp = bootstrap(load_settings(home=where))
    path = tmp_path / "complaints.jsonl"
    path.write_text("\n".join([
        _complaint("op-1", resolved_at="2026-09-03T11:00:00+08:00"),  # settled in an hour: in time
        _complaint("op-2"),  # the file says nothing of its outcome, and the desk has not moved it
        _complaint("op-3"),
    ]) + "\n", encoding="utf-8")
    import_complaints(fapp, path)
    fapp.close()
    d, _ = _month_kpis(where)
    sla = d["sla"]
    assert isinstance(sla, dict)
    assert (sla["resolved"], sla["resolved_in_time"], sla["open_overdue"], sla["outcome_unknown"]) == (1, 1, 0, 2)
    assert sla["attainment"] == "1.0000"
