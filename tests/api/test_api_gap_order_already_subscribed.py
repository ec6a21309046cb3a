"""Ordering an offer the subscriber already has, confirmed and running, is refused with 409 ``already_subscribed``
naming that subscription, and appends nothing to the consent ledger. Before, it made a second order of the same
offer, which a second confirmation turned into a second subscription. An order still waiting for its confirmation
is answered as before (one order, one confirmation to give); once the subscription is cancelled the offer may be
ordered again. On SQLite and on PostgreSQL, also for requests sent at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, auth, confirm_codes, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import STATUS_OF_CODE, ApiOptions, create_app
from fairtel.store import ConsentEvent
from fairtel.store._schema import table_of

ORDER = "/api/v1/me/subscriptions"


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


def _events(seeded: Seeded, offer_id: str) -> list[tuple[str, str]]:
    t = table_of(ConsentEvent)
    with seeded.engine.connect() as conn:
        rows = conn.execute(select(t.c.subscription_id, t.c.event).where(t.c.msisdn == ALICE, t.c.offer_id == offer_id)
                            .order_by(t.c.at, t.c.event_id)).all()
    return [(r.subscription_id, r.event) for r in rows]


def _refused(r: Any, subscription_id: str, offer_id: str) -> None:
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "already_subscribed" and STATUS_OF_CODE["already_subscribed"] == 409
    assert error["details"] == {"subscription_id": subscription_id, "offer_id": offer_id}
    assert subscription_id in error["message"]


def _at_once(n: int, call: Callable[[int], Any]) -> list[Any]:
    gate = threading.Barrier(n)
    answers: list[Any] = [None] * n

    def run(i: int) -> None:
        gate.wait()
        answers[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return answers


def test_an_offer_already_subscribed_is_refused_naming_the_subscription(
        seeded: Seeded, client: TestClient, alice: dict[str, str]) -> None:
    # the seed's ledger: Alice ordered and confirmed the music pack (sub-a1)
    before = _events(seeded, "vas-music-10")
    assert before == [("sub-a1", "ordered"), ("sub-a1", "confirmed")]
    _refused(client.post(ORDER, json={"offer_id": "vas-music-10"}, headers=alice), "sub-a1", "vas-music-10")
    assert _events(seeded, "vas-music-10") == before
    mine = [s for s in client.get(ORDER, headers=alice).json() if s["offer_id"] == "vas-music-10"]
    assert [(s["subscription_id"], s["state"]) for s in mine] == [("sub-a1", "confirmed")]


def test_order_confirm_then_order_again_is_refused_until_cancelled(
        seeded: Seeded, client: TestClient, alice: dict[str, str]) -> None:
    first = client.post(ORDER, json={"offer_id": "vas-cloud-8"}, headers=alice)
    assert first.status_code == 201 and first.json()["state"] == "ordered", first.text
    sid = first.json()["subscription_id"]
    # still waiting for confirmation: the same order is answered (kept as it was)
    again = client.post(ORDER, json={"offer_id": "vas-cloud-8"}, headers=alice)
    assert again.status_code == 201 and again.json() == first.json()
    assert client.post(f"{ORDER}/{sid}/confirm", json={"code": confirm_codes(seeded, ALICE)[-1]}, headers=alice).status_code == 200
    _refused(client.post(ORDER, json={"offer_id": "vas-cloud-8"}, headers=alice), sid, "vas-cloud-8")
    assert _events(seeded, "vas-cloud-8") == [(sid, "ordered"), (sid, "confirmed")]
    # cancelled: ordering again is a new order
    assert client.post(f"/api/v1/subscriptions/{sid}/cancel", headers=alice).status_code == 200
    renewed = client.post(ORDER, json={"offer_id": "vas-cloud-8"}, headers=alice)
    assert renewed.status_code == 201 and renewed.json()["subscription_id"] != sid, renewed.text


def test_orders_at_the_same_moment_of_a_subscribed_offer_are_all_refused(
        seeded: Seeded, client: TestClient, alice: dict[str, str]) -> None:
    before = _events(seeded, "vas-music-10")
    answers = _at_once(8, lambda _i: client.post(ORDER, json={"offer_id": "vas-music-10"}, headers=alice))
    for r in answers:
        _refused(r, "sub-a1", "vas-music-10")
    assert _events(seeded, "vas-music-10") == before


def test_orders_racing_the_confirmation_never_make_a_second_subscription(
        seeded: Seeded, client: TestClient, alice: dict[str, str]) -> None:
    first = client.post(ORDER, json={"offer_id": "vas-wallpaper-3"}, headers=alice)
    assert first.status_code == 201, first.text
    sid = first.json()["subscription_id"]
    code = confirm_codes(seeded, ALICE)[-1]

    def click(i: int) -> Any:
        if i == 0:
            return client.post(f"{ORDER}/{sid}/confirm", json={"code": code}, headers=alice)
        return client.post(ORDER, json={"offer_id": "vas-wallpaper-3"}, headers=alice)

    confirmed, *orders = _at_once(6, click)
    assert confirmed.status_code == 200, confirmed.text
    for r in orders:  # before the confirmation: the order waiting for it; after: refused, naming it
        if r.status_code == 201:
            assert r.json()["subscription_id"] == sid
        else:
            _refused(r, sid, "vas-wallpaper-3")
    assert _events(seeded, "vas-wallpaper-3") == [(sid, "ordered"), (sid, "confirmed")]
    _refused(client.post(ORDER, json={"offer_id": "vas-wallpaper-3"}, headers=alice), sid, "vas-wallpaper-3")
