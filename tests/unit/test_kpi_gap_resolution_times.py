"""How long complaints took to settle, beside SLA attainment: median and 90th-percentile hours of the terms settled
that began in the period (nearest rank), and the terms begun by a reopening. Terms whose outcome is not known are
left out, as attainment leaves them out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairtel.care import ResolutionTerm
from fairtel.kpi import ComplaintFact, KpiInputs, compute_kpis, resolution_times

START, END = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
AT = datetime(2026, 9, 3, 2, tzinfo=UTC)


def _settled(cid: str, hours: float, *, reopened_after: float | None = None, known: bool = True) -> ComplaintFact:
    first = ResolutionTerm(AT, AT + timedelta(hours=48), AT + timedelta(hours=hours), reopened=False)
    terms = [first]
    if reopened_after is not None:
        again = AT + timedelta(hours=hours + 1)
        terms.append(ResolutionTerm(again, again + timedelta(hours=48), again + timedelta(hours=reopened_after), reopened=True))
    return ComplaintFact(cid, "vas", "hotline", AT, closed_at=terms[-1].settled_at, terms=tuple(terms), outcome_known=known)


def test_median_and_p90_of_the_settled_terms() -> None:
    facts = [_settled(f"c{h}", h) for h in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]
    facts.append(_settled("c-re", 20, reopened_after=30))  # two terms: 20 h, then 30 h after its reopening
    facts.append(ComplaintFact("c-open", "vas", "hotline", AT, due_at=AT + timedelta(hours=48)))  # not settled
    facts.append(_settled("c-unknown", 500, known=False))  # imported without an outcome: not counted
    r = resolution_times(facts, start=START, end=END)
    # settled: 1..10, 20, 30 (12 terms); nearest rank: median the 6th (6 h), p90 the 11th (20 h)
    assert r == {"terms": 13, "settled": 12, "median_hours": "6.0", "p90_hours": "20.0", "reopened": 1,
                 "reopen_share": "0.0769"}


def test_a_month_without_settled_terms_has_no_times_and_the_report_carries_them() -> None:
    assert resolution_times([], start=START, end=END)["median_hours"] is None
    later = [_settled("c1", 2.5)]
    report = compute_kpis(KpiInputs(period="2026-09", subscribers=10, complaints=later, start=START, end=END,
                                    now=END)).to_dict()
    assert report["resolution"]["median_hours"] == "2.5" and report["resolution"]["settled"] == 1
