"""A line that changed owner with its activation kept (过户: the register's ``holder_since``): the new customer's
self-service, in the API and on the console's page, lists none of the previous customer's subscriptions (alice's
confirmed music subscription ``sub-a1``), lets them act on none, and lets them order the same offer themselves.
(The consent gate refuses the previous customer's subscription's charges
after the change as ``previous_holder``: tests/unit/test_consent_gap_owner_change_gate.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_forms import login
from fairtel_seed import ALICE, PASSWORD, Seeded, auth, client_for
from fastapi.testclient import TestClient
from sqlalchemy import update

from fairtel.api import ApiOptions, create_user
from fairtel.core.time import utc_now
from fairtel.store import Subscriber
from fairtel.store._schema import Customer, table_of
from fairtel.web import create_console

NEW = "newcustomer"


@pytest.fixture(scope="module")
def moved(seeded: Seeded) -> Iterator[TestClient]:
    """Alice's line moves to another customer now, its activation kept; an administrator disables her login and
    makes one for the new customer."""
    s = table_of(Subscriber)
    at = utc_now().replace(microsecond=0)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Customer).insert().values(customer_id="cust-moved", name=None, segment=None, created_at=at))
        conn.execute(update(s).where(s.c.msisdn == ALICE).values(customer_id="cust-moved", holder_since=at))
    with client_for(seeded) as c:
        assert c.post("/api/v1/users/alice/disable", headers=_as(c, "admin1")).status_code == 204
        with seeded.engine.begin() as conn:
            create_user(conn, NEW, PASSWORD, "subscriber", msisdn=ALICE)
        yield c


def _as(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def test_the_new_customer_sees_and_acts_on_none_of_the_previous_customer_s_subscriptions(
        seeded: Seeded, moved: TestClient) -> None:
    new = _as(moved, NEW)
    assert moved.get("/api/v1/me/subscriptions", headers=new).json() == []
    assert moved.post("/api/v1/subscriptions/sub-a1/cancel", headers=new).status_code == 404
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as web:
        login(web, NEW)
        page = web.get("/my/subscriptions")
        assert page.status_code == 200 and 'id="sub-sub-a1"' not in page.text
    # the new customer orders the offer the previous customer had confirmed: theirs, listed
    r = moved.post("/api/v1/me/subscriptions", json={"offer_id": "vas-music-10"}, headers=new)
    assert r.status_code == 201, r.text
    mine = r.json()["subscription_id"]
    assert [s["subscription_id"] for s in moved.get("/api/v1/me/subscriptions", headers=new).json()] == [mine]
