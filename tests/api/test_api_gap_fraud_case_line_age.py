"""A fraud case's evidence gives the first premium call to the second and the line's age at it; to those who do not
see the line's number the age is cut to whole days, else the two give the line's activation to the second (the
subscriber list cuts it to the month for them). Before: the age to four decimals, activation recoverable to 2 s."""

from __future__ import annotations

from datetime import UTC, datetime

from fairtel_seed import ALICE, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.store import FraudCase
from fairtel.store._schema import table_of

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_a_line_age_reaches_a_fraud_analyst_in_whole_days(
        client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FraudCase).insert().values(
            case_id="fcs_age_1", detector="irsf", msisdn=ALICE, score=0.97, status="open", opened_at=T0,
            decided_by=None, decided_at=None,
            evidence={"period": "2026-10", "premium_first_at": "2026-10-03T10:51:31Z", "premium_line_age_days": 2.4521,
                      "features": {"line_age_days": 30.7731, "calls_out": 12}}))
    page = client.get("/api/v1/fraud/cases", headers=auth(tokens["fraud1"]))
    assert page.status_code == 200, page.text
    case = next(c for c in page.json()["items"] if c["case_id"] == "fcs_age_1")
    evidence = case["evidence"]
    assert evidence["premium_line_age_days"] == 2 and evidence["features"]["line_age_days"] == 30
    # the call the age was measured at to its month: with it to the second, even a whole-day age gives the day
    assert evidence["features"]["calls_out"] == 12 and evidence["premium_first_at"] == "2026-10"
