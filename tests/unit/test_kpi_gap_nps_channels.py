"""NPS per channel the answers came through, beside the month's NPS: each respondent counted once, in the channel
of their latest answer, so the channels add up to the whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairtel.care import SurveyAnswer
from fairtel.kpi import KpiInputs, compute_kpis

T0 = datetime(2026, 8, 1, tzinfo=UTC)


def test_nps_by_channel_adds_up_to_the_months() -> None:
    answers = [
        SurveyAnswer("a1", "8613800000001", 10, T0, "sms"),
        SurveyAnswer("a2", "8613800000001", 3, T0 + timedelta(days=2), "app"),  # A's latest: counted in app
        SurveyAnswer("b1", "8613800000002", 9, T0 + timedelta(days=1), "sms"),
        SurveyAnswer("c1", "8613800000003", 8, T0 + timedelta(days=1), "hotline"),
        SurveyAnswer("d1", "8613800000004", 10, T0 + timedelta(days=1), "app"),
    ]
    end = T0 + timedelta(days=31)
    n = compute_kpis(KpiInputs(period="2026-08", subscribers=4, now=end, survey_answers=answers, start=T0,
                               end=end)).nps
    assert (n["responses"], n["nps"]) == (4, "25.0")  # promoters B, D; detractor A
    by = n["by_channel"]
    assert {c: (v["responses"], v["nps"]) for c, v in by.items()} == {
        "app": (2, "0.0"), "hotline": (1, "0.0"), "sms": (1, "100.0")}
    assert sum(v["responses"] for v in by.values()) == n["responses"]
