"""A roaming cap cannot be set on a closed line (409 ``line_not_in_service``): it roams no more, and a cap left on the number would stand for
whoever it is given to next. Removing one stays possible. Before: 200, the cap stored."""

from __future__ import annotations

from fairtel_seed import ALICE, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import update

from fairtel.store import Subscriber
from fairtel.store._schema import table_of


def test_a_closed_line_takes_no_roaming_cap(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    alice = auth(tokens["alice"])
    assert client.put("/api/v1/me/roaming-cap", json={"amount": "50.00"}, headers=alice).status_code == 200
    s = table_of(Subscriber)
    with seeded.engine.begin() as conn:
        conn.execute(update(s).where(s.c.msisdn == ALICE).values(status="closed"))
    try:
        r = client.put("/api/v1/me/roaming-cap", json={"amount": "80.00"}, headers=alice)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "line_not_in_service" and "closed" in r.json()["error"]["message"]
        assert client.get("/api/v1/me/roaming-cap", headers=alice).json()["amount"] == "50.00"  # unchanged
        removed = client.put("/api/v1/me/roaming-cap", json={"amount": None}, headers=alice)
        assert removed.status_code == 200 and removed.json()["amount"] is None
    finally:
        with seeded.engine.begin() as conn:
            conn.execute(update(s).where(s.c.msisdn == ALICE).values(status="active"))
