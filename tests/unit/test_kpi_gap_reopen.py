"""Complaints per million and SLA attainment over a period: a complaint counted once, in the period it was
opened; each resolution term (the opening, each reopening) in the period it began; the lines in service of
the period as the denominator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairtel.care import ResolutionTerm
from fairtel.kpi import (
    ComplaintFact,
    KpiInputs,
    LineFact,
    complaint_rates,
    compute_kpis,
    lines_in_service,
    lines_in_service_by_period,
    sla_attainment,
)

MAR, APR = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 20, tzinfo=UTC)


def _reopened_in_march() -> ComplaintFact:
    """Opened in February and resolved in time; reopened in March and resolved 60 h later (due in 48 h)."""
    opened, reopened = datetime(2026, 2, 20, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC)
    terms = (ResolutionTerm(opened, opened + timedelta(hours=48), opened + timedelta(hours=5), reopened=False),
             ResolutionTerm(reopened, reopened + timedelta(hours=48), reopened + timedelta(hours=60), reopened=True))
    return ComplaintFact("c-feb", "unexplained_charge", "app", opened, reopened + timedelta(hours=60),
                         reopened + timedelta(hours=48), terms)


def test_a_complaint_given_twice_is_counted_once() -> None:
    c = ComplaintFact("c-1", "unexplained_charge", "app", datetime(2026, 3, 2, tzinfo=UTC))
    rates = complaint_rates([c, c], 1_000_000)
    assert (rates["total"], rates["unexplained_charge"], rates["unexplained_charge_per_million"]) == (1, 1, "1.00")
    assert sla_attainment([c, c], NOW)["open"] == 1


def test_a_reopening_is_not_a_new_complaint_of_its_period() -> None:
    march_one = ComplaintFact("c-mar", "unexplained_charge", "app", datetime(2026, 3, 2, tzinfo=UTC))
    rates = complaint_rates([_reopened_in_march(), march_one], 1_000_000, start=MAR, end=APR)
    assert (rates["total"], rates["per_million"]) == (1, "1.00")


def test_a_reopening_is_a_resolution_obligation_of_the_period_it_began_in() -> None:
    march = sla_attainment([_reopened_in_march()], NOW, start=MAR, end=APR)
    assert march == {"resolved": 1, "resolved_in_time": 0, "attainment": "0.0000", "open": 0, "open_overdue": 0}
    february = sla_attainment([_reopened_in_march()], NOW, start=datetime(2026, 2, 1, tzinfo=UTC), end=MAR)
    assert february == {"resolved": 1, "resolved_in_time": 1, "attainment": "1.0000", "open": 0, "open_overdue": 0}
    inputs = KpiInputs(period="2026-03", subscribers=1_000_000, now=NOW, complaints=[_reopened_in_march()], start=MAR, end=APR)
    d = compute_kpis(inputs).to_dict()
    assert d["complaints"]["total"] == 0 and d["sla"]["resolved"] == 1


LINES = [
    LineFact(datetime(2025, 1, 1, tzinfo=UTC), "active"),
    LineFact(datetime(2025, 1, 1, tzinfo=UTC), "suspended"),
    LineFact(datetime(2025, 1, 1, tzinfo=UTC), "closed", datetime(2026, 3, 15, tzinfo=UTC)),  # left in March
    LineFact(datetime(2025, 1, 1, tzinfo=UTC), "closed", datetime(2026, 5, 2, tzinfo=UTC)),  # left after March
    LineFact(datetime(2025, 1, 1, tzinfo=UTC), "closed", datetime(2026, 2, 27, tzinfo=UTC)),  # gone before March
    LineFact(datetime(2025, 1, 1, tzinfo=UTC), "closed"),  # closed, when not known: gone
    LineFact(datetime(2026, 3, 31, 23, 0, tzinfo=UTC), "active"),
    LineFact(APR, "active"),  # not yet
]


def test_the_denominator_is_the_lines_in_service_during_the_period() -> None:
    assert lines_in_service(LINES, MAR, APR) == 5


def test_the_lines_in_service_of_many_periods_are_counted_in_one_pass() -> None:
    def month(y: int, m: int) -> tuple[datetime, datetime]:
        return datetime(y, m, 1, tzinfo=UTC), datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC)

    periods = [month(2024, 12), month(2026, 2), month(2026, 3), month(2026, 4), month(2026, 6)]
    assert lines_in_service_by_period(iter(LINES), periods) == [lines_in_service(LINES, s, e) for s, e in periods] == [
        0, 5, 5, 5, 4]
