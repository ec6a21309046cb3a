"""`PUT /me/roaming-cap` removes the cap only on an explicit `"amount": null`: a body without `amount` (a client
that forgot the field) is a 422 naming it and the cap stays. Before: `{}` removed the subscriber's bill-shock
protection silently."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import PASSWORD, Seeded, auth, seeded_on
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, create_app


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from seeded_on("sqlite", tmp_path_factory.mktemp("home"), None)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0, user_cache_s=0), app=seeded.app)
    with TestClient(app) as c:
        yield c


def test_a_body_without_amount_keeps_the_cap_and_null_removes_it(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
    alice = auth(r.json()["access_token"])
    assert client.put("/api/v1/me/roaming-cap", json={"amount": "200"}, headers=alice).status_code == 200
    for body in ({}, {"currency": "CNY"}):
        r = client.put("/api/v1/me/roaming-cap", json=body, headers=alice)
        assert r.status_code == 422 and "amount" in r.text, r.text
        assert client.get("/api/v1/me/roaming-cap", headers=alice).json()["amount"] == "200.00"
    r = client.put("/api/v1/me/roaming-cap", json={"amount": None}, headers=alice)
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/me/roaming-cap", headers=alice).json()["amount"] is None
