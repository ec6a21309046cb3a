"""Every amount a request carries is read by one rule (``api._money.parse_amount``): a JSON string of plain ASCII
digits, at most nine before the point and the currency's minor digits after it. The roaming cap read anything
``Decimal`` reads ("1e3", " 100", "+100", "100.", ".5", "NaN", "Infinity", "１００"); a credit took "3.500" in CNY.
Each is now a 422 naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, auth
from fastapi.testclient import TestClient

from fairtel.core.errors import InvalidInputError

BAD = ["1e3", "1E3", " 100", "100 ", "+100", "-100", "100.", ".5", "NaN", "nan", "Infinity", "-Infinity", "１００",
       "1_000", "1,000", "0x10", "100.505", "3.500", "1234567890", "", "\u0661\u0660\u0660"]


def _problems(r: Any) -> list[dict[str, str]]:
    body = r.json()["error"]
    assert r.status_code == 422 and body["code"] == "input_invalid", r.text
    return list(body["details"]["problems"])


@pytest.mark.parametrize("amount", [a for a in BAD if a])
def test_a_roaming_cap_that_is_not_plain_digits_is_refused_naming_the_field(
        client: TestClient, tokens: dict[str, str], amount: str) -> None:
    r = client.put("/api/v1/me/roaming-cap", json={"amount": amount}, headers=auth(tokens["alice"]))
    assert [p["field"] for p in _problems(r)] == ["amount"]
    now = client.get("/api/v1/me/roaming-cap", headers=auth(tokens["alice"])).json()
    assert now["amount"] in (None, "100.00", "0.00"), now  # nothing of it was kept


@pytest.mark.parametrize(("amount", "kept"), [("100", "100.00"), ("99.5", "99.50"), ("0", "0.00"), ("100000.00", "100000.00")])
def test_a_plain_cap_is_kept(client: TestClient, tokens: dict[str, str], amount: str, kept: str) -> None:
    r = client.put("/api/v1/me/roaming-cap", json={"amount": amount}, headers=auth(tokens["alice"]))
    assert r.status_code == 200 and r.json()["amount"] == kept, r.text
    client.put("/api/v1/me/roaming-cap", json={"amount": "100"}, headers=auth(tokens["alice"]))


@pytest.fixture(scope="module")
def handling(client: TestClient, tokens: dict[str, str]) -> str:
    r = client.post("/api/v1/complaints", json={"msisdn": ALICE, "category": "billing", "text": "never called Hong Kong",
                                               "channel": "phone"}, headers=auth(tokens["agent1"]))
    assert r.status_code == 201, r.text
    return str(r.json()["complaint_id"])


@pytest.mark.parametrize("amount", BAD)
def test_a_credit_amount_takes_the_same_rule(client: TestClient, tokens: dict[str, str], handling: str, amount: str) -> None:
    r = client.post(f"/api/v1/bills/{BILL_A}/credits", json={"amount": amount, "reason": "goodwill for the outage"},
                    headers=auth(tokens["agent1"]))
    assert [p["field"] for p in _problems(r)] == ["amount"]


def test_the_one_rule_follows_the_currency() -> None:
    from fairtel.api._money import amount_problem, parse_amount

    assert parse_amount("3.50", "CNY") == parse_amount("3.5", "CNY")
    assert amount_problem("350", "JPY") is None and amount_problem("3.5", "JPY") is not None
    assert amount_problem("3.505", "KWD") is None and amount_problem("3.505", "CNY") is not None
    with pytest.raises(InvalidInputError) as caught:
        parse_amount("1e3", "CNY", field="cap")
    assert [p.field for p in caught.value.problems] == ["cap"]
