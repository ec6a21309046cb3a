"""A number that changes hands: the register gives the line a later ``activated_at`` (closed, then activated again
for a new holder). The earlier holder's login, made before that activation, opens nothing any more (403
``line_changed_hands``, at login and for a token issued before), and the new holder, under a login made for them,
reads only what belongs to their holding: records dated at or after the activation (bills of periods ending after
it, usage, subscriptions and consent events, complaints, loyalty, roaming cap, marketing choice, access log, plan
and status history), in the API and in the data export. An earlier holder's confirmed subscription does not block
the new holder's order of the same offer, and an earlier holder's roaming cap is not in force for the new holder.
Staff go on reading the line's whole record. On SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, PASSWORD, PERIOD, Seeded, auth, client_for, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from fairtel.api import create_user
from fairtel.core.time import utc_now
from fairtel.store import Subscriber
from fairtel.store._roaming_caps import caps_in_force
from fairtel.store._schema import AccessAudit, Customer, LineStatusHistory, LoyaltyEntry, table_of

NEW = "newholder"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    # the account is read on every request (no cache), so a change of the register counts at once
    with client_for(seeded) as c:
        yield c


def _token(client: TestClient, username: str) -> Any:
    return client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})


@pytest.fixture(scope="module")
def changed(seeded: Seeded, client: TestClient) -> dict[str, Any]:
    """Alice, the earlier holder, sets a roaming cap and refuses marketing; she has the seed's October bill, usage,
    music subscription, complaint, survey and finding, and loyalty points. Then the register activates her number
    again for another customer, and an administrator disables her login and makes one for the new holder."""
    r = _token(client, "alice")
    assert r.status_code == 200, r.text
    old = auth(r.json()["access_token"])
    assert client.put("/api/v1/me/roaming-cap", json={"amount": "50.00"}, headers=old).status_code == 200
    assert client.put("/api/v1/me/marketing", json={"opted_out": True}, headers=old).status_code == 200
    with seeded.engine.begin() as conn:
        conn.execute(table_of(LoyaltyEntry).insert().values(
            entry_id="loy-old-1", msisdn=ALICE, kind="earn", points=504, reason="monthly spend",
            booked_at=datetime(2026, 10, 31, 12, 0, tzinfo=UTC)))
    time.sleep(0.01)
    activated = utc_now().replace(microsecond=0) + timedelta(seconds=1)
    time.sleep((activated - utc_now()).total_seconds() + 0.01)
    s, h = table_of(Subscriber), table_of(LineStatusHistory)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Customer).insert().values(customer_id="cust-new", name=None, segment=None, created_at=activated))
        conn.execute(update(s).where(s.c.msisdn == ALICE).values(customer_id="cust-new", plan_id="payg", activated_at=activated,
                                                                  language="zh", region="Beijing"))
        conn.execute(h.insert().values(msisdn=ALICE, status="active", since=activated, recorded_at=activated, source="register"))
    return {"old": old, "activated": activated}


@pytest.fixture(scope="module")
def new(seeded: Seeded, client: TestClient, changed: dict[str, Any]) -> dict[str, str]:
    admin = auth(_token(client, "admin1").json()["access_token"])
    assert client.post("/api/v1/users/alice/disable", headers=admin).status_code == 204
    with seeded.engine.begin() as conn:
        create_user(conn, NEW, PASSWORD, "subscriber", msisdn=ALICE)
    r = _token(client, NEW)
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def test_a_login_made_before_the_line_changed_hands_opens_nothing(seeded: Seeded, client: TestClient, changed: dict[str, Any]) -> None:
    for path in ("/api/v1/me", "/api/v1/me/roaming-cap", "/api/v1/me/bills"):
        r = client.get(path, headers=changed["old"])  # a token issued before the number changed hands
        assert r.status_code == 403, (path, r.text)
        error = r.json()["error"]
        assert error["code"] == "line_changed_hands" and "administrator" in error["message"] and "new login" in error["message"]
    r = _token(client, "alice")  # logging in again, with the right password
    assert r.status_code == 403 and r.json()["error"]["code"] == "line_changed_hands", r.text
    a = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        reasons = conn.scalars(select(a.c.reason).where(a.c.action == "login.failed")).all()
    assert any("line's current activation" in (x or "") for x in reasons)
    # the other logins are untouched
    assert _token(client, "bob").status_code == 200
    # a login made ahead of a new line's first activation (nobody held the number before) is its holder's
    line, later = "8613600136000", utc_now() + timedelta(days=1)
    s, h = table_of(Subscriber), table_of(LineStatusHistory)
    with seeded.engine.begin() as conn:
        conn.execute(s.insert().values(msisdn=line, customer_id="cust-c", plan_id="payg", activated_at=later, status="active",
                                       language="en", region="Shanghai", updated_at=utc_now()))
        conn.execute(h.insert().values(msisdn=line, status="active", since=later, recorded_at=utc_now(), source="register"))
        create_user(conn, "early-bird", PASSWORD, "subscriber", msisdn=line)
    r = _token(client, "early-bird")
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/me", headers=auth(r.json()["access_token"])).status_code == 200


def test_the_new_holder_sees_nothing_of_the_earlier_holding(
        seeded: Seeded, client: TestClient, changed: dict[str, Any], new: dict[str, str]) -> None:
    me = client.get("/api/v1/me", headers=new).json()
    assert me["customer_id"] == "cust-new"
    assert client.get("/api/v1/me/bills", headers=new).json()["items"] == []
    assert client.get(f"/api/v1/me/bills/{PERIOD}", headers=new).status_code == 404
    assert client.get(f"/api/v1/bills/{BILL_A}", headers=new).status_code == 404
    usage = client.get(f"/api/v1/me/usage?period={PERIOD}", headers=new).json()
    assert usage["items"] == [] and usage["not_on_bill"] == [] and usage["bill_id"] is None
    assert client.get("/api/v1/me/subscriptions", headers=new).json() == []
    assert client.post("/api/v1/subscriptions/sub-a1/cancel", headers=new).status_code == 404
    cap = client.get("/api/v1/me/roaming-cap", headers=new).json()
    assert cap["amount"] is None and cap["set_by"] is None
    marketing = client.get("/api/v1/me/marketing", headers=new).json()
    assert marketing["opted_out"] is False and marketing["changed_by"] is None
    assert client.get("/api/v1/complaints", headers=new).json()["items"] == []
    assert client.get("/api/v1/complaints/cmp-1/history", headers=new).status_code == 404

    r = client.get("/api/v1/me/data-export", headers=new)
    assert r.status_code == 200, r.text
    export = r.json()
    since = changed["activated"]
    for section in ("bills", "adjustments", "consent_events", "subscriptions", "findings", "complaints", "tickets", "surveys",
                    "roaming_caps", "marketing_preferences", "churn_scores"):
        assert export[section] == [], section
    assert export["usage"]["records"] == [] and export["usage"]["months"] == []
    assert export["loyalty"] == {"balance": 0, "entries": []}
    assert all(datetime.fromisoformat(x["effective_from"]) >= since for x in export["plan_history"])
    assert [x["status"] for x in export["status_history"]] == ["active"]
    assert export["access_log"] and all(datetime.fromisoformat(x["at"]) >= since for x in export["access_log"])
    assert not any(x["action"].startswith("login") and x["own_login"] for x in export["access_log"] if x["actor"] == "alice")

    # staff read the line's whole record, the earlier holding's too
    agent = auth(_token(client, "agent1").json()["access_token"])
    r = client.post("/api/v1/complaints/cmp-1/take", headers=agent)
    assert r.status_code in (200, 201), r.text
    bills = client.get(f"/api/v1/subscribers/{ALICE}/bills", headers=agent).json()["items"]
    assert [b["period"] for b in bills] == [PERIOD]
    subs = client.get(f"/api/v1/subscribers/{ALICE}/subscriptions", headers=agent).json()
    assert "sub-a1" in {s["subscription_id"] for s in subs}
    export = client.get(f"/api/v1/subscribers/{ALICE}/data-export", headers=agent).json()
    assert [b["period"] for b in export["bills"]] == [PERIOD] and export["loyalty"]["balance"] == 504
    assert [c["complaint_id"] for c in export["complaints"]] == ["cmp-1"]


def test_the_new_holder_orders_what_the_earlier_holder_had_and_sets_their_own_choices(
        seeded: Seeded, client: TestClient, new: dict[str, str]) -> None:
    r = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-music-10"}, headers=new)
    assert r.status_code == 201, r.text  # sub-a1, the earlier holder's, confirmed: no longer already_subscribed
    mine = r.json()["subscription_id"]
    assert [s["subscription_id"] for s in client.get("/api/v1/me/subscriptions", headers=new).json()] == [mine]
    assert client.put("/api/v1/me/marketing", json={"opted_out": True}, headers=new).status_code == 200
    assert client.get("/api/v1/me/marketing", headers=new).json()["opted_out"] is True


def test_an_earlier_holders_roaming_cap_is_not_in_force(seeded: Seeded, client: TestClient, new: dict[str, str]) -> None:
    with seeded.engine.connect() as conn:
        assert ALICE not in caps_in_force(conn, at=utc_now(), msisdns=[ALICE])
    r = client.put("/api/v1/me/roaming-cap", json={"amount": "80.00"}, headers=new)
    assert r.status_code == 200, r.text
    with seeded.engine.connect() as conn:
        cap = caps_in_force(conn, at=utc_now(), msisdns=[ALICE])[ALICE]
    assert str(cap.cap.amount) == "80.00"
    assert client.get("/api/v1/me/roaming-cap", headers=new).json()["amount"] == "80.00"
