"""A subscriber may refuse marketing based on automated profiling (PIPL Art. 24): they say it themselves (API,
console) or an agent handling them records it for them; each change is kept and audited, the latest in force. The
retention list leaves the refusing lines out (its ranks as scored) and counts them; the churn figures still count
every scored line. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.api._marketing import PREFERENCES, opted_out_lines
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of
from fairtel.web import create_console


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)) as c:
        yield c


def _login(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def _retention(client: TestClient) -> dict[str, Any]:
    r = client.get("/api/v1/retention", headers=_login(client, "analyst1"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _set(client: TestClient, user: str, opted_out: bool, path: str = "/api/v1/me/marketing", **extra: Any) -> Any:
    return client.put(path, json={"opted_out": opted_out, **extra}, headers=_login(client, user))


def _history(seeded: Seeded, msisdn: str) -> list[tuple[bool, str, str]]:
    t = PREFERENCES
    with seeded.engine.connect() as conn:
        rows = conn.execute(select(t.c.opted_out, t.c.source, t.c.channel).where(t.c.msisdn == msisdn)
                            .order_by(t.c.changed_at, t.c.pref_id)).all()
    return [(bool(r[0]), r[1], r[2]) for r in rows]


def _audit(seeded: Seeded, action: str) -> list[Any]:
    a = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(a.c.actor, a.c.subject_msisdn_pseudonym, a.c.reason).where(a.c.action == action)
                                 .order_by(a.c.audit_id)).all())


def test_a_line_that_never_said_accepts_and_the_list_leaves_out_nobody(client: TestClient) -> None:
    me = client.get("/api/v1/me/marketing", headers=_login(client, "alice"))
    assert me.status_code == 200, me.text
    assert me.json() == {"opted_out": False, "changed_at": None, "channel": None, "source": None, "changed_by": None}
    page = _retention(client)
    assert [i["rank"] for i in page["items"]] == [1, 2, 3] and page["do_not_contact"] == 0


def test_a_subscriber_who_refuses_is_left_out_of_the_retention_list_until_they_accept_again(
    client: TestClient, seeded: Seeded
) -> None:
    before = _retention(client)
    top = before["items"][0]["msisdn"]  # bob: the highest risk of the seeded list, as the analyst sees him

    r = _set(client, "bob", True)
    assert r.status_code == 200, r.text
    assert r.json()["opted_out"] is True and r.json()["source"] == "subscriber" and r.json()["channel"] == "api"
    assert client.get("/api/v1/me/marketing", headers=_login(client, "bob")).json()["opted_out"] is True
    after = _retention(client)
    assert top not in [i["msisdn"] for i in after["items"]]
    assert [i["rank"] for i in after["items"]] == [2, 3], "ranks stay the list's: the line left out leaves a gap"
    assert after["do_not_contact"] == 1
    # the churn figures still count every scored line: only the offers are refused
    kpis = client.get("/api/v1/kpis", headers=_login(client, "analyst1")).json()
    assert sum(p["value"] for p in kpis["churn_risk"]["points"]) == 3

    assert _set(client, "bob", False).status_code == 200
    again = _retention(client)
    assert [i["msisdn"] for i in again["items"]] == [i["msisdn"] for i in before["items"]] and again["do_not_contact"] == 0
    assert _history(seeded, BOB) == [(True, "subscriber", "api"), (False, "subscriber", "api")]
    told = [r for r in _audit(seeded, "marketing.set") if r.actor == "bob"]
    assert len(told) == 2 and told[0].subject_msisdn_pseudonym and BOB not in str(told)
    assert "refuses marketing" in told[0].reason and "accepts marketing" in told[1].reason


def test_an_agent_records_the_refusal_of_the_customer_they_handle(client: TestClient, seeded: Seeded) -> None:
    agent = _login(client, "agent1")
    # not handling alice yet: refused, and nothing recorded
    r = client.put(f"/api/v1/subscribers/{ALICE}/marketing", json={"opted_out": True}, headers=agent)
    assert r.status_code == 403 and r.json()["error"]["code"] == "assignment_required"
    assert _history(seeded, ALICE) == []
    assert client.post("/api/v1/complaints/cmp-1/take", headers=agent).status_code == 200
    bad = client.put(f"/api/v1/subscribers/{ALICE}/marketing", json={"opted_out": True, "channel": "api"}, headers=agent)
    assert bad.status_code == 422 and "channel" in bad.text
    r = client.put(f"/api/v1/subscribers/{ALICE}/marketing", json={"opted_out": True, "channel": "phone"}, headers=agent)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/subscribers/{ALICE}/marketing", headers=agent).json()["opted_out"] is True
    # the subscriber sees who said it and how
    mine = client.get("/api/v1/me/marketing", headers=_login(client, "alice")).json()
    assert (mine["opted_out"], mine["source"], mine["channel"], mine["changed_by"]) == (True, "agent", "phone", "agent1")
    # another customer's line stays closed to the agent
    r = client.put(f"/api/v1/subscribers/{BOB}/marketing", json={"opted_out": True}, headers=agent)
    assert r.status_code == 403
    assert _history(seeded, BOB)[-1][0] is False
    page = _retention(client)
    assert page["do_not_contact"] == 1 and [i["rank"] for i in page["items"]] == [1, 2]
    found = client.get("/api/v1/audit", params={"actor": "agent1", "msisdn": ALICE, "action": "marketing.set"},
                       headers=_login(client, "admin1")).json()["items"]
    assert len(found) == 1 and found[0]["reason"].startswith("complaint cmp-1") and "(agent, phone)" in found[0]["reason"]
    assert _set(client, "alice", False).status_code == 200
    with seeded.engine.connect() as conn:
        assert opted_out_lines(conn) == set()


def test_only_a_yes_or_no_is_taken_and_a_subscriber_says_it_through_their_own_channels(client: TestClient, seeded: Seeded) -> None:
    for body in ({"opted_out": "yes"}, {"opted_out": 1}, {}, {"opted_out": True, "channel": "phone"},
                 {"opted_out": True, "channel": "fax"}):
        r = client.put("/api/v1/me/marketing", json=body, headers=_login(client, "bob"))
        assert r.status_code == 422, (body, r.text)
    assert [h for h in _history(seeded, BOB) if h[0]] == [(True, "subscriber", "api")]  # the one of the test above
    with seeded.engine.connect() as conn:
        assert BOB not in opted_out_lines(conn)


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "the page has a form token"
    return m.group(1)


def test_the_console_toggle_and_the_retention_page(seeded: Seeded, client: TestClient) -> None:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as web:
        assert web.post("/login", data={"username": "bob", "password": PASSWORD}, follow_redirects=False).status_code == 303
        page = web.get("/my/subscriptions")
        assert page.status_code == 200 and 'id="marketing-toggle"' in page.text and "Refuse marketing offers" in page.text
        r = web.post("/my/marketing", data={"csrf": _csrf(page.text), "opted_out": "1"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/my/subscriptions"), r.text
        page = web.get("/my/subscriptions")
        assert 'class="opted-out"' in page.text and "Accept marketing offers again" in page.text
        assert web.post("/my/marketing", data={"csrf": "forged", "opted_out": "0"}, follow_redirects=False).status_code != 303
        assert _history(seeded, BOB)[-1] == (True, "subscriber", "web")

        web.cookies.clear()
        assert web.post("/login", data={"username": "analyst1", "password": PASSWORD}, follow_redirects=False).status_code == 303
        listed = web.get("/retention")
        assert listed.status_code == 200
        assert "1 line left out: its subscriber refused marketing" in listed.text
        assert listed.text.count('class="num rank"') == 2

        web.cookies.clear()
        web.post("/login", data={"username": "bob", "password": PASSWORD}, follow_redirects=False)
        page = web.get("/my/subscriptions")
        assert web.post("/my/marketing", data={"csrf": _csrf(page.text), "opted_out": "0"}, follow_redirects=False).status_code == 303
        assert _history(seeded, BOB)[-1] == (False, "subscriber", "web")


def test_an_agent_records_it_from_the_customer_page(seeded: Seeded, client: TestClient) -> None:
    r = client.post("/api/v1/complaints/cmp-1/take", headers=_login(client, "agent1"))
    assert r.status_code in (200, 409), r.text
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as web:
        assert web.post("/login", data={"username": "agent1", "password": PASSWORD}, follow_redirects=False).status_code == 303
        page = web.get(f"/customers/{ALICE}")
        assert page.status_code == 200 and 'id="customer-marketing-toggle"' in page.text, page.text
        assert "has not refused marketing" in page.text
        r = web.post(f"/customers/{ALICE}/marketing", data={"csrf": _csrf(page.text), "opted_out": "1", "channel": "store"},
                     follow_redirects=False)
        assert r.status_code == 303, r.text
        assert _history(seeded, ALICE)[-1] == (True, "agent", "store")
        page = web.get(f"/customers/{ALICE}")
        assert "refuses marketing based on automated profiling" in page.text and "accepts marketing again" in page.text
        # a customer the agent does not handle: refused, nothing recorded
        before = _history(seeded, BOB)
        r = web.post(f"/customers/{BOB}/marketing", data={"csrf": _csrf(page.text), "opted_out": "1"}, follow_redirects=False)
        assert r.status_code == 403 and _history(seeded, BOB) == before
        r = web.post(f"/customers/{ALICE}/marketing", data={"csrf": _csrf(page.text), "opted_out": "0"}, follow_redirects=False)
        assert r.status_code == 303 and _history(seeded, ALICE)[-1] == (False, "agent", "phone")
