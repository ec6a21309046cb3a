"""NPS is measured once per respondent per period: each subscriber's latest answer of the period counts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from fairtel.care import SurveyAnswer, nps
from fairtel.care._surveys import latest_answers, respondent_scores
from fairtel.kpi import KpiInputs, compute_kpis

T0 = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
A, B = "8613800138000", "8613900139000"


def _answer(sid: str, msisdn: str, score: int, at: datetime) -> SurveyAnswer:
    return SurveyAnswer(sid, msisdn, score, at, "sms")


def test_one_subscriber_answering_five_times_counts_once() -> None:
    answers = [_answer(f"s{i}", A, 10, T0 + timedelta(hours=i)) for i in range(5)] + [_answer("b", B, 0, T0)]
    assert sorted(respondent_scores(answers)) == [0, 10]
    assert nps(respondent_scores(answers)).score == 0  # counted per answer it would be 66.7


def test_the_latest_answer_counts_whatever_the_order_or_zone_it_was_read_in() -> None:
    east = timezone(timedelta(hours=8))
    answers = [
        _answer("s1", A, 10, T0),
        _answer(
            "s2", A, 3, (T0 + timedelta(minutes=1)).astimezone(east)
        ),  # later, though its wall clock reads later still
        _answer("s3", A, 9, T0 - timedelta(hours=1)),
        # the same instant: told apart by survey id, never by reading order
        _answer("t1", B, 9, T0),
        _answer("t2", B, 6, T0),
    ]
    for _ in range(5):
        random.shuffle(answers)
        assert [(a.msisdn, a.survey_id) for a in latest_answers(answers)] == [(A, "s2"), (B, "t2")]


def test_fairtel_kpi_counts_the_periods_latest_answer_of_each_respondent() -> None:
    start, end = T0, T0 + timedelta(days=31)
    answers = [
        _answer("s1", A, 10, T0),
        _answer("s2", A, 10, T0 + timedelta(days=1)),
        _answer("s3", A, 0, T0 + timedelta(days=2)),
        _answer("b1", B, 10, T0 + timedelta(days=3)),
        _answer("later", B, 0, end),
    ]  # the next period's: neither counted nor replacing B's 10
    report = compute_kpis(
        KpiInputs(period="2026-08", subscribers=2, now=end, survey_answers=answers, start=start, end=end)
    )
    whole = {"responses": 2, "promoters": 1, "passives": 0, "detractors": 1, "nps": "0.0"}
    assert report.nps == {**whole, "by_channel": {"sms": whole}}
    # scores given bare are already one per respondent, and still counted as given
    bare = compute_kpis(KpiInputs(period="2026-08", subscribers=2, now=end, survey_scores=[10, 10, 6]))
    assert bare.nps["responses"] == 3
