"""Ordering an offer again while an order of it waits for confirmation (a second click, a form sent twice, two
requests at the same moment) answers that order and appends nothing to the consent ledger: one order, one
confirmation to give. On SQLite and on PostgreSQL, where two requests at once each read "no order yet" unless
the second waits for the first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.store import ConsentEvent
from fairtel.store._schema import table_of


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)) as c:
        yield c


@pytest.fixture(scope="module")
def alice(client: TestClient) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def _orders(seeded: Seeded, offer_id: str) -> list[str]:
    t = table_of(ConsentEvent)
    with seeded.engine.connect() as conn:
        return list(conn.scalars(select(t.c.subscription_id).where(t.c.msisdn == ALICE, t.c.offer_id == offer_id, t.c.event == "ordered")))


def _pending(client: TestClient, alice: dict[str, str], offer_id: str) -> list[str]:
    mine = client.get("/api/v1/me/subscriptions", headers=alice).json()
    return [s["subscription_id"] for s in mine if s["offer_id"] == offer_id and s["state"] == "ordered"]


def test_ordering_twice_answers_the_order_waiting_for_confirmation(seeded: Seeded, client: TestClient, alice: dict[str, str]) -> None:
    first = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-news-5"}, headers=alice)
    again = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-news-5"}, headers=alice)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json() and first.json()["state"] == "ordered"
    sid = first.json()["subscription_id"]
    assert _orders(seeded, "vas-news-5") == [sid] and _pending(client, alice, "vas-news-5") == [sid]
    # another offer is another order
    other = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-game-30"}, headers=alice).json()
    assert other["subscription_id"] != sid and other["offer_id"] == "vas-game-30"
    # once the order is no longer waiting (cancelled here), ordering again is a new order
    assert client.post(f"/api/v1/subscriptions/{sid}/cancel", headers=alice).status_code == 200
    renewed = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-news-5"}, headers=alice)
    assert renewed.status_code == 201 and renewed.json()["subscription_id"] != sid
    assert _pending(client, alice, "vas-news-5") == [renewed.json()["subscription_id"]]


@pytest.mark.parametrize("offer_id", ["vas-video-15", "vas-wallpaper-3", "vas-ringtone-2", "vas-cloud-8"])
def test_orders_at_the_same_moment_make_one_order(seeded: Seeded, client: TestClient, alice: dict[str, str], offer_id: str) -> None:
    n = 8
    gate = threading.Barrier(n)
    answers: list[Any] = []
    lock = threading.Lock()

    def order() -> None:
        gate.wait()
        r = client.post("/api/v1/me/subscriptions", json={"offer_id": offer_id}, headers=alice)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=order) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [r.status_code for r in answers] == [201] * n, [r.text for r in answers if r.status_code != 201]
    ids = {r.json()["subscription_id"] for r in answers}
    assert len(ids) == 1, ids
    assert _orders(seeded, offer_id) == list(ids) and _pending(client, alice, offer_id) == list(ids)
