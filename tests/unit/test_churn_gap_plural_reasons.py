"""Reasons in English say "1 day", "0 days", "2 days" (not "1 days"): the phrase texts mark the plural ending
with ``{s}``; the Chinese words are as before."""

from __future__ import annotations

import pytest

from fairtel.fraud._model import FRAUD_PHRASES
from fairtel.insight._churn_warning import CHURN_WARNING_PHRASES
from fairtel.learn import Direction, Phrase
from fairtel.learn._reasons import phrase


@pytest.mark.parametrize(("value", "en"), [("1", "last complaint 1 day ago"), ("0", "last complaint 0 days ago"),
                                           ("2", "last complaint 2 days ago"), ("1.5", "last complaint 1.5 days ago")])
def test_the_days_since_a_complaint_agree_with_their_number(value: str, en: str) -> None:
    said = phrase("days_since_complaint", value, Direction.HIGH, CHURN_WARNING_PHRASES["days_since_complaint"])
    assert said == (en, f"上次投诉在 {value} 天前")
    low = phrase("days_since_complaint", value, Direction.LOW, CHURN_WARNING_PHRASES["days_since_complaint"])[0]
    assert low == f"complained in the last few days ({value} day{'' if value == '1' else 's'} ago)"


def test_fraud_and_churn_counts_agree_with_their_number() -> None:
    assert phrase("line_age_days", "1", Direction.LOW, FRAUD_PHRASES["line_age_days"]) == ("a new line (1 day)", "新开号码（1天）")
    assert phrase("line_age_days", "30", Direction.HIGH, FRAUD_PHRASES["line_age_days"])[0] == "an old line (30 days)"
    assert phrase("distinct_cells", "1", Direction.LOW, FRAUD_PHRASES["distinct_cells"])[0] == "calls from one place only (1 cell)"
    assert phrase("complaints", "1", Direction.HIGH, CHURN_WARNING_PHRASES["complaints"])[0] == "complained recently (1 time)"
    assert phrase("tenure_months", "1", Direction.LOW, CHURN_WARNING_PHRASES["tenure_months"])[0] == "recent customer (1 month)"


def test_no_english_phrase_counts_days_without_the_plural_mark() -> None:
    for book in (CHURN_WARNING_PHRASES, FRAUD_PHRASES):
        for entry in book.values():
            for text in (entry.high_en, entry.low_en):
                assert "{value} days" not in text and "{value} months" not in text, text


def test_a_phrase_without_the_mark_is_as_before() -> None:
    assert phrase("x", "1", Direction.HIGH, Phrase("seen ({value})", "见（{value}）")) == ("seen (1)", "见（1）")
