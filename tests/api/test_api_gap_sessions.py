"""Server-side state the stateless parts of the API depend on, on SQLite and PostgreSQL: a token ended by
logging out, and the analysts' subscriber list in its keyed order (stored and indexed by each database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fairtel_seed import PASSWORD, Seeded, auth, seed
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from fairtel.api import ApiOptions, create_app
from fairtel.privacy import Pseudonymizer, mask_msisdn
from fairtel.store import Subscriber, import_subscribers
from fairtel.store._schema import table_of

EXTRA = [f"86150{n:08d}" for n in range(0, 40_000_000, 1_000_003)]  # 40 more lines, in number order here


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The seeded home with 40 more subscribers, on SQLite and in a private schema on PostgreSQL."""
    home: Path = tmp_path_factory.mktemp("home")
    csv = home / "more-subscribers.csv"
    csv.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                   + "".join(f"{m},cust-x{i},payg,2024-01-01T00:00:00+08:00,active,en,\n" for i, m in enumerate(EXTRA)), encoding="utf-8")
    if request.param == "sqlite":
        s = seed(home)
        with s.engine.begin() as conn:
            assert import_subscribers(conn, csv).accepted == len(EXTRA)
        yield s
        s.engine.dispose()
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"fairtel_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        s = seed(home, database_url=f"{url}?options=-csearch_path%3D{schema}")
        with s.engine.begin() as conn:
            assert import_subscribers(conn, csv).accepted == len(EXTRA)
        yield s
        s.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def login(client: TestClient, user: str) -> str:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


# ---- logout ends the token -----------------------------------------------------------------------------
def test_a_token_presented_after_logout_is_refused(client: TestClient) -> None:
    token, other = login(client, "alice"), login(client, "alice")
    assert token != other  # two logins of one user in the same second are two tokens, each ended on its own
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200
    out = client.post("/api/v1/auth/logout", headers=auth(token))
    assert out.status_code == 204, out.text
    for path in ("/api/v1/me", "/api/v1/me/bills/2026-10", "/api/v1/auth/me"):
        r = client.get(path, headers=auth(token))
        assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated", path
        assert r.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/v1/auth/logout", headers=auth(token)).status_code == 401
    assert client.get("/api/v1/me", headers=auth(other)).status_code == 200  # the user's other session goes on


def test_a_logout_holds_in_every_server_process(seeded: Seeded, client: TestClient) -> None:
    """Another process (another worker) knows of the logout only through the database."""
    other_process = create_app(seeded.settings, options=ApiOptions(rate_per_second=0, user_cache_s=0))
    with TestClient(other_process) as elsewhere:
        token = login(client, "agent1")
        assert elsewhere.get("/api/v1/assignments", headers=auth(token)).status_code == 200
        assert client.post("/api/v1/auth/logout", headers=auth(token)).status_code == 204
        r = elsewhere.get("/api/v1/assignments", headers=auth(token))
        assert r.status_code == 401, r.text
        # and a process started after the logout refuses it from its first request
        with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0))) as fresh:
            assert fresh.get("/api/v1/assignments", headers=auth(token)).status_code == 401


def test_an_api_key_is_not_logged_out(client: TestClient, tokens: dict[str, str]) -> None:
    made = client.post("/api/v1/users/agent1/api-keys", json={}, headers=auth(tokens["admin1"]))
    assert made.status_code == 201, made.text
    key = {"X-API-Key": made.json()["key"]}
    r = client.post("/api/v1/auth/logout", headers=key)
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    assert client.get("/api/v1/assignments", headers=key).status_code == 200


# ---- the analysts' list follows neither the numbers nor the pseudonyms ---------------------------------
def test_the_pseudonymised_subscriber_list_is_in_its_keyed_order_and_pages_by_it(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    with seeded.engine.connect() as conn:
        numbers = list(conn.scalars(select(table_of(Subscriber).c.msisdn)))
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value())
    expected = [pseudonym(n) for n in sorted(numbers, key=pseudonym.order)]
    assert expected != [pseudonym(n) for n in sorted(numbers)] and expected != sorted(expected)

    for user in ("analyst1", "fraud1", "admin1"):
        seen, cursor = [], None
        for _ in range(20):
            r = client.get("/api/v1/subscribers", params={"limit": 7, **({"cursor": cursor} if cursor else {})}, headers=auth(tokens[user]))
            assert r.status_code == 200, r.text
            seen += [s["msisdn"] for s in r.json()["items"]]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, user

    # a filtered list keeps the order; a new subscriber takes its own place, and paging past it neither skips
    # nor repeats the rows already listed
    h = auth(tokens["analyst1"])
    first = client.get("/api/v1/subscribers", params={"limit": 20, "plan_id": "payg"}, headers=h).json()
    payg = [s["msisdn"] for s in first["items"]]
    payg_lines = sorted((n for n in numbers if pseudonym(n) in payg), key=pseudonym.order)
    assert payg == [pseudonym(n) for n in payg_lines] and len(payg) == 20
    late = "8615099999999"
    csv = Path(seeded.settings.home) / "late-subscriber.csv"
    csv.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                   f"{late},cust-late,payg,2024-01-01T00:00:00+08:00,active,en,\n", encoding="utf-8")
    with seeded.engine.begin() as conn:
        assert import_subscribers(conn, csv).accepted == 1
    rest = client.get("/api/v1/subscribers", params={"limit": 500, "plan_id": "payg", "cursor": first["next_cursor"]}, headers=h).json()
    later = [s["msisdn"] for s in rest["items"]]
    by_pseudonym = {pseudonym(n): n for n in [*numbers, late]}
    assert not set(payg) & set(later)
    assert sorted(later, key=lambda p: pseudonym.order(by_pseudonym[p])) == later
    assert pseudonym.order(by_pseudonym[later[0]]) > pseudonym.order(payg_lines[-1])
    assert (pseudonym(late) in later) == (pseudonym.order(late) > pseudonym.order(payg_lines[-1]))


def test_agents_see_masked_numbers_in_the_keyed_order_too(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    r = client.get("/api/v1/subscribers", params={"limit": 500}, headers=auth(tokens["agent1"]))
    assert r.status_code == 200
    with seeded.engine.connect() as conn:
        numbers = list(conn.scalars(select(table_of(Subscriber).c.msisdn)))
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value())
    masked = [s["msisdn"] for s in r.json()["items"]]
    assert masked == [mask_msisdn(n) for n in sorted(numbers, key=pseudonym.order)]
