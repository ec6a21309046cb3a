"""A login's name is matched whatever its letter case at the login form and the token route: "ALICE" or a
full-width "ａｌｉｃｅ" reaches the login "alice" (names are unique case-insensitively, migration 0024), and the
token names the login as stored. A wrong password is still refused. Before: only the exact spelling logged in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, seeded_on
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


@pytest.mark.parametrize("typed", ["alice", "ALICE", "Alice", "ａｌｉｃｅ"])
def test_the_login_is_found_whatever_its_case(client: TestClient, typed: str) -> None:
    r = client.post("/api/v1/auth/token", data={"username": typed, "password": PASSWORD})
    assert r.status_code == 200, r.text
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["msisdn"] == ALICE, me.text


def test_a_wrong_password_is_refused_whatever_the_case(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "ALICE", "password": PASSWORD + "x"})
    assert r.status_code == 401


def test_an_unknown_name_is_refused(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "nobody", "password": PASSWORD})
    assert r.status_code == 401
