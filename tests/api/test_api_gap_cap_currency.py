"""Money on the subscriber's roaming cap and on the credit API.

A cap set with no currency is kept in the catalog's currency, the one roaming is charged in, not in the settings'
default (``FAIRTEL_CURRENCY``), which may differ from it; a cap in another currency than the catalog's is refused
(422, field ``currency``): bill-shock detection compares the cap with the charges in one currency. The cap's bound
is 100000 units of its currency, whatever its minor digits (not 100000.00 written as 2-digit minor units). A
credit's ``amount`` is a decimal string, as every money field of the API: a JSON number is refused (422 naming
``amount``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import ALICE, BILL_A, PASSWORD, Seeded, auth, seed
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.api._customers import set_roaming_cap
from fairtel.api._security import Principal
from fairtel.api._services import Services
from fairtel.bootstrap import bootstrap
from fairtel.core.errors import InvalidInputError
from fairtel.privacy import Role
from fairtel.store import RoamingCap
from fairtel.store._schema import table_of


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    s = seed(tmp_path_factory.mktemp("home"))
    yield s
    s.engine.dispose()


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    # the operator's default currency set apart from its catalog's (CNY)
    app = bootstrap(seeded.settings.model_copy(update={"currency": "USD"}))
    assert seeded.catalog.operator.currency == "CNY" and app.settings.currency == "USD"
    with TestClient(create_app(app.settings, options=ApiOptions(rate_per_second=0), app=app)) as c:
        yield c
    app.close()


def _login(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def _latest_cap(seeded: Seeded) -> tuple[int | None, str | None]:
    t = table_of(RoamingCap)
    with seeded.engine.connect() as conn:
        r = conn.execute(select(t.c.amount_minor, t.c.currency).where(t.c.msisdn == ALICE)
                         .order_by(t.c.set_at.desc(), t.c.cap_id.desc()).limit(1)).one()
    return r.amount_minor, r.currency


def test_a_cap_without_currency_is_kept_in_the_catalogs_currency(seeded: Seeded, client: TestClient) -> None:
    alice = _login(client, "alice")
    r = client.put("/api/v1/me/roaming-cap", json={"amount": "50.00"}, headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["currency"] == "CNY"
    assert _latest_cap(seeded) == (5000, "CNY")


def test_a_cap_in_another_currency_is_refused(seeded: Seeded, client: TestClient) -> None:
    alice = _login(client, "alice")
    r = client.put("/api/v1/me/roaming-cap", json={"amount": "12.5", "currency": "USD"}, headers=alice)
    assert r.status_code == 422, r.text
    problems = r.json()["error"]["details"]["problems"]
    assert [p["field"] for p in problems] == ["currency"] and "CNY" in problems[0]["message"]
    assert _latest_cap(seeded)[1] != "USD"
    r = client.put("/api/v1/me/roaming-cap", json={"amount": "12.5", "currency": "CNY"}, headers=alice)
    assert r.status_code == 200, r.text


def test_the_cap_bound_is_in_units_of_its_currency(client: TestClient) -> None:
    svc = client.app.state.services  # type: ignore[attr-defined]
    assert isinstance(svc, Services)
    cases = [
        ("20000", "KWD", True),  # 20 000 000 minor units (3 digits): under the bound of 100000 KWD
        ("100000", "JPY", True),
        ("9999999", "JPY", False),  # 9 999 999 minor units (0 digits): far over it
        ("100000", "CNY", True),
        ("100000.01", "CNY", False),
    ]
    for amount, currency, kept in cases:
        with svc.access(Principal("alice", Role.SUBSCRIBER, ALICE)) as acc:
            if kept:
                assert set_roaming_cap(acc, ALICE, amount, currency).currency == currency, (amount, currency)
            else:
                with pytest.raises(InvalidInputError) as refused:
                    set_roaming_cap(acc, ALICE, amount, currency)
                assert "between 0 and 100000" in str(refused.value.details), (amount, currency)


def test_a_credit_amount_is_a_decimal_string(client: TestClient) -> None:
    agent = _login(client, "agent1")
    for number in (3.5, 3):
        r = client.post(f"/api/v1/bills/{BILL_A}/credits", json={"amount": number, "reason": "goodwill for the outage"},
                        headers=agent)
        assert r.status_code == 422, r.text
        problems = r.json()["error"]["details"]["problems"]
        assert [p["field"] for p in problems] == ["amount"] and "decimal string" in problems[0]["message"]
    # a string passes the check of its form (and goes on to the agent's case, which this one does not handle)
    r = client.post(f"/api/v1/bills/{BILL_A}/credits", json={"amount": "3.50", "reason": "goodwill for the outage"},
                    headers=agent)
    assert r.status_code != 422, r.text
