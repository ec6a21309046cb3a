"""`PUT /me/roaming-cap` removes the cap only on an explicit `"amount": null`: a body without `amount` (a client
that forgot the field) is a 422 naming it and the cap stays. Before: `{}` removed the subscriber's bill-shock
protection silently."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import client_on_sqlite, token
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from client_on_sqlite(tmp_path_factory.mktemp("home"))


def test_a_body_without_amount_keeps_the_cap_and_null_removes_it(client: TestClient) -> None:
    alice = token(client, "alice")
    assert client.put("/api/v1/me/roaming-cap", json={"amount": "200"}, headers=alice).status_code == 200
    for body in ({}, {"currency": "CNY"}):
        r = client.put("/api/v1/me/roaming-cap", json=body, headers=alice)
        assert r.status_code == 422 and "amount" in r.text, r.text
        assert client.get("/api/v1/me/roaming-cap", headers=alice).json()["amount"] == "200.00"
    r = client.put("/api/v1/me/roaming-cap", json={"amount": None}, headers=alice)
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/me/roaming-cap", headers=alice).json()["amount"] is None
