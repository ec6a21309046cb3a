"""A suspended (停机) or closed line takes no new value-added order and confirms none (409
``line_not_in_service``); its subscriber can still cancel what runs and change the roaming cap, both of which
only protect them."""

from __future__ import annotations

from datetime import UTC, datetime

from fairtel_seed import ALICE, BOB, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import update

from fairtel.store import Subscriber
from fairtel.store._schema import table_of

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _set_status(seeded: Seeded, msisdn: str, status: str) -> None:
    t = table_of(Subscriber)
    with seeded.engine.begin() as conn:
        conn.execute(update(t).where(t.c.msisdn == msisdn).values(
            status=status, suspended_at=AT if status == "suspended" else None, closed_at=AT if status == "closed" else None))


def test_a_suspended_line_orders_and_confirms_nothing_but_may_cancel(seeded: Seeded, client: TestClient, tokens: dict[str, str]) -> None:
    alice = auth(tokens["alice"])
    r = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-news-5"}, headers=alice)
    assert r.status_code == 201, r.text
    waiting = r.json()["subscription_id"]
    _set_status(seeded, ALICE, "suspended")
    try:
        r = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-news-5"}, headers=alice)
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "line_not_in_service" and r.json()["error"]["details"]["status"] == "suspended"
        r = client.post(f"/api/v1/me/subscriptions/{waiting}/confirm", headers=alice)  # ordered before the suspension
        assert r.status_code == 409 and r.json()["error"]["code"] == "line_not_in_service", r.text
        assert {s["subscription_id"]: s["state"] for s in client.get("/api/v1/me/subscriptions", headers=alice).json()}[waiting] == "ordered"
        r = client.post(f"/api/v1/subscriptions/{waiting}/cancel", headers=alice)
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
        r = client.put("/api/v1/me/roaming-cap", json={"amount": "50.00"}, headers=alice)
        assert r.status_code == 200, r.text
    finally:
        _set_status(seeded, ALICE, "active")


def test_a_closed_line_orders_nothing(seeded: Seeded, client: TestClient, tokens: dict[str, str]) -> None:
    _set_status(seeded, BOB, "closed")
    try:
        r = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-music-10"}, headers=auth(tokens["bob"]))
        assert r.status_code == 409 and r.json()["error"]["code"] == "line_not_in_service", r.text
    finally:
        _set_status(seeded, BOB, "active")
    r = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-music-10"}, headers=auth(tokens["bob"]))
    assert r.status_code == 201, r.text
