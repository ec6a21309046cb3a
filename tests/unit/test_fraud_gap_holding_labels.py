"""The fraud label of a line's month comes from the cases of its current holder only: a case opened before the
number's current activation is an earlier holder's (the features of the month are the current holder's alone,
docs: recycled numbers), so it labels nothing; a case opened in the holding still does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from fairtel.fraud import CaseQueue, Detector, FraudCase, Reason, case_id
from fairtel.fraud._score import label_from_cases

T0 = datetime(2026, 9, 5, tzinfo=UTC)


def _case(subject: str, opened: datetime) -> FraudCase:
    return FraudCase(case_id=case_id(Detector.SIMBOX, subject, "2026-09"), detector=Detector.SIMBOX, subject=subject,
                     period="2026-09", score=0.7, evidence={}, reasons=(Reason("x", 1.0, None, "x", "x"),),
                     opened_at=opened)


def test_an_earlier_holders_case_labels_nothing_of_the_new_holder() -> None:
    table = pl.DataFrame({"msisdn": ["a", "b"], "period": ["2026-09"] * 2, "calls_out": [1.0, 1.0]})
    q = CaseQueue([_case("a", T0), _case("b", T0)])
    for s in ("a", "b"):
        q.decide(case_id(Detector.SIMBOX, s, "2026-09"), "confirmed", by="li", at=T0)
    # a changed hands on the 20th, after its case was opened; b has been held since before it
    since = {"a": T0 + timedelta(days=15), "b": T0 - timedelta(days=400)}
    assert label_from_cases(table, q, holding_from=since)["fraud"].to_list() == [0, 1]
    assert label_from_cases(table, q)["fraud"].to_list() == [1, 1]  # without the register: as before
