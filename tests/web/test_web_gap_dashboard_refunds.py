"""The analyst's dashboard draws the refunds of each month, which the API now gives as decimal strings (money is
never a float on the wire): the chart still draws them, and the page shows the amount."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions
from fairtel.store import Adjustment
from fairtel.store._schema import table_of
from fairtel.web import create_console


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[TestClient]:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Adjustment).insert(), [
            {"adjustment_id": "adj-dash-1", "kind": "refund", "msisdn": ALICE, "amount_minor": 1250, "currency": "CNY",
             "reason": "refund", "created_at": datetime(2026, 10, 15, 4, 0, tzinfo=UTC), "created_by": "agent1"},
        ])
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def test_the_dashboard_draws_refunds_given_as_decimal_strings(web: TestClient) -> None:
    r = web.post("/login", data={"username": "analyst1", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = web.get("/dashboard")
    assert page.status_code == 200, page.text[:500]
    assert "12.5" in page.text
