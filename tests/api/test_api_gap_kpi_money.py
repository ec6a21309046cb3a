"""The dashboard's refunds are money: each month's amount a decimal string (as every amount the API gives), never a
JSON float, in the currency of the home's catalog (the one refunds are made in), whatever the setting says."""

from __future__ import annotations

from datetime import UTC, datetime

from fairtel_seed import ALICE, BOB, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.api import Access, Principal, Pseudonyms
from fairtel.api._insight import kpis
from fairtel.privacy import Role
from fairtel.store import Adjustment
from fairtel.store._schema import table_of

KEY = "test-secret-key-0123456789abcdef"


def _refunds(seeded: Seeded) -> None:
    with seeded.engine.begin() as conn:
        if conn.execute(table_of(Adjustment).select().where(table_of(Adjustment).c.adjustment_id == "adj-kpi-1")).first():
            return
        conn.execute(table_of(Adjustment).insert(), [
            {"adjustment_id": "adj-kpi-1", "kind": "refund", "msisdn": ALICE, "amount_minor": 1250, "currency": "CNY",
             "reason": "refund", "created_at": datetime(2026, 10, 15, 4, 0, tzinfo=UTC), "created_by": "agent1"},
            {"adjustment_id": "adj-kpi-2", "kind": "refund", "msisdn": BOB, "amount_minor": 1, "currency": "CNY",
             "reason": "refund", "created_at": datetime(2026, 10, 16, 4, 0, tzinfo=UTC), "created_by": "agent1"},
        ])


def test_refunds_by_month_are_decimal_strings(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    _refunds(seeded)
    r = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["refunds_by_month"]["unit"] == "CNY"
    assert body["refunds_by_month"]["points"] == [{"label": "2026-10", "value": "12.51"}]
    assert body["refunded"] == "12.51"
    # the other series stay numbers: counts, shares and scores are no money
    assert all(isinstance(p["value"], (int, float)) for p in body["nps"]["points"])


def test_the_kpi_currency_is_the_catalogs(seeded: Seeded) -> None:
    _refunds(seeded)
    acc = Access(principal=Principal("analyst1", Role.ANALYST), pseudonyms=Pseudonyms(KEY), begin=seeded.engine.begin,
                 lake=seeded.app.lake)
    out = kpis(acc, seeded.app.lake, tz=seeded.catalog.operator.timezone, currency="EUR")  # a setting other than the catalog's
    acc.end(None)
    assert out.currency == "CNY"
    assert [(p.label, p.value) for p in out.refunds_by_month.points] == [("2026-10", "12.51")]
    assert out.refunded == "12.51"
