"""Complaints resolved in time: a resolution term still open past its deadline has missed it. A month whose
complaints all lie open and overdue attains 0, not "not available"; terms not yet due are not judged yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairtel.kpi import ComplaintFact, KpiInputs, compute_kpis, sla_attainment

T0 = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)


def test_open_terms_past_their_deadline_count_as_missed() -> None:
    now = T0 + timedelta(days=60)
    overdue = [ComplaintFact(str(i), "unexplained_charge", "app", T0, None) for i in range(38)]
    s = sla_attainment(overdue, now)
    assert s == {"resolved": 0, "resolved_in_time": 0, "attainment": "0.0000", "open": 38, "open_overdue": 38}


def test_settled_and_overdue_terms_are_judged_together() -> None:
    now = T0 + timedelta(days=10)
    complaints = [
        ComplaintFact("1", "unexplained_charge", "app", T0, T0 + timedelta(hours=47)),  # 48 h: in time
        ComplaintFact("2", "unexplained_charge", "app", T0, T0 + timedelta(hours=49)),  # late
        ComplaintFact("3", "network_quality", "app", T0, T0 + timedelta(hours=70)),  # 72 h: in time
        ComplaintFact("4", "network_quality", "app", T0, None),  # open, past 72 h: missed
        ComplaintFact("5", "price", "app", now - timedelta(hours=1), None),  # open, not due: not judged yet
    ]
    s = sla_attainment(complaints, now)
    assert (s["resolved"], s["resolved_in_time"], s["open"], s["open_overdue"]) == (3, 2, 2, 1)
    assert s["attainment"] == "0.5000"  # 2 in time of 4 judged (3 settled, 1 overdue)


def test_terms_not_yet_due_are_not_judged() -> None:
    now = T0 + timedelta(hours=1)
    s = sla_attainment([ComplaintFact("1", "billing_error", "app", T0, None)], now)
    assert s["attainment"] is None and (s["open"], s["open_overdue"]) == (1, 0)


def test_the_report_gives_the_same_figure() -> None:
    start, end = datetime(2026, 8, 31, 16, 0, tzinfo=UTC), datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    inputs = KpiInputs(period="2026-09", subscribers=400, now=T0 + timedelta(days=60), start=start, end=end,
                       complaints=[ComplaintFact(str(i), "billing_error", "app", T0, None) for i in range(3)])
    assert compute_kpis(inputs).to_dict()["sla"]["attainment"] == "0.0000"
