"""The API shows a subscriber's plan in force, not the register's latest plan: a plan change takes effect from the
next billing period (次月生效), so until then the subscriber, agents and analysts see the plan this month is billed
under, and the change as pending with the instant it takes effect. On SQLite and PostgreSQL; a list page reads
the plans of its rows in one query whatever its size."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, USERS, Seeded, auth, seed
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from fairtel.api import ApiOptions, create_app
from fairtel.core.time import Period, utc_now
from fairtel.privacy import Pseudonymizer
from fairtel.store import import_subscribers

CHANGES = (
    "msisdn,customer_id,plan_id,activated_at,status,language,region,plan_since\n"
    f"{ALICE},cust-a,unlimited-129,2025-01-05T10:00:00+08:00,active,en,Shanghai,\n"  # from the next period
    f"{BOB},cust-b,payg,2024-06-01T09:00:00+08:00,active,zh,Beijing,\n"  # from the next period
    f"{CAROL},cust-c,basic-39,2023-03-01T09:00:00+08:00,active,zh,Shenzhen,2026-10-01T00:00:00+08:00\n"  # in force
)
EXTRA = [f"86151{n:08d}" for n in range(0, 30_000_000, 1_000_003)]  # 30 more lines on payg, never changed


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    home: Path = tmp_path_factory.mktemp("home")
    changes, more = home / "changes.csv", home / "more.csv"
    changes.write_text(CHANGES, encoding="utf-8")
    more.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    + "".join(f"{m},cust-y{i},payg,2024-01-01T00:00:00+08:00,active,en,\n" for i, m in enumerate(EXTRA)),
                    encoding="utf-8")

    def change(s: Seeded) -> Seeded:
        with s.engine.begin() as conn:
            assert import_subscribers(conn, more).accepted == len(EXTRA)
            assert import_subscribers(conn, changes).updated == 3
        return s

    if request.param == "sqlite":
        s = change(seed(home))
        yield s
        s.engine.dispose()
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        s = change(seed(home, database_url=f"{url}?options=-csearch_path%3D{schema}"))
        yield s
        s.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(client: TestClient) -> dict[str, str]:
    out = {}
    for user in USERS:
        r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[user] = r.json()["access_token"]
    return out


def _next_period(seeded: Seeded) -> datetime:
    return Period.containing(utc_now(), seeded.catalog.operator.timezone).next().start


def _plan(body: dict[str, Any]) -> tuple[str, str | None, datetime | None]:
    since = body["pending_from"]
    return body["plan_id"], body["pending_plan_id"], None if since is None else datetime.fromisoformat(since)


def test_the_subscriber_sees_the_plan_in_force_and_the_change_pending(client: TestClient, tokens: dict[str, str],
                                                                     seeded: Seeded) -> None:
    r = client.get("/api/v1/me", headers=auth(tokens["alice"]))
    assert r.status_code == 200, r.text
    assert _plan(r.json()) == ("basic-39", "unlimited-129", _next_period(seeded))


def test_an_agent_sees_the_plan_in_force_and_the_change_pending(client: TestClient, tokens: dict[str, str],
                                                               seeded: Seeded) -> None:
    h = auth(tokens["agent1"])
    assert client.post("/api/v1/complaints/cmp-2/take", headers=h).status_code in (200, 201)
    r = client.get(f"/api/v1/subscribers/{BOB}", headers=h)
    assert r.status_code == 200, r.text
    assert _plan(r.json()) == ("unlimited-129", "payg", _next_period(seeded))


def test_the_list_shows_and_filters_by_the_plan_in_force(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value())
    h = auth(tokens["analyst1"])
    r = client.get("/api/v1/subscribers", params={"limit": 500}, headers=h)
    assert r.status_code == 200, r.text
    shown = {s["msisdn"]: _plan(s) for s in r.json()["items"]}
    nxt = _next_period(seeded)
    assert shown[pseudonym(ALICE)] == ("basic-39", "unlimited-129", nxt)
    assert shown[pseudonym(BOB)] == ("unlimited-129", "payg", nxt)
    assert shown[pseudonym(CAROL)] == ("basic-39", None, None)  # dated back to October: in force already
    assert all(shown[pseudonym(m)] == ("payg", None, None) for m in EXTRA)

    def on(plan: str) -> set[str]:
        got = client.get("/api/v1/subscribers", params={"limit": 500, "plan_id": plan}, headers=h)
        assert got.status_code == 200, got.text
        assert all(s["plan_id"] == plan for s in got.json()["items"])
        return {s["msisdn"] for s in got.json()["items"]}

    assert on("basic-39") == {pseudonym(ALICE), pseudonym(CAROL)}
    assert on("unlimited-129") == {pseudonym(BOB)}
    assert on("payg") == {pseudonym(m) for m in EXTRA}


def test_a_list_page_reads_the_plans_of_its_rows_in_one_query(client: TestClient, tokens: dict[str, str],
                                                              seeded: Seeded) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    h = auth(tokens["analyst1"])
    event.listen(seeded.engine, "before_cursor_execute", count)
    try:
        sizes = {}
        for limit in (2, 30):
            statements.clear()
            assert len(client.get("/api/v1/subscribers", params={"limit": limit}, headers=h).json()["items"]) == limit
            sizes[limit] = sum("subscriber_plans" in s for s in statements)
    finally:
        event.remove(seeded.engine, "before_cursor_execute", count)
    assert sizes == {2: 1, 30: 1}


def test_a_plan_no_line_names_lists_nothing(client: TestClient, tokens: dict[str, str]) -> None:
    """A mistyped or retired plan: an empty page (answered without a pass over the register)."""
    r = client.get("/api/v1/subscribers", params={"plan_id": "no-such-plan"}, headers=auth(tokens["agent1"]))
    assert r.status_code == 200 and r.json()["items"] == [] and r.json()["next_cursor"] is None
