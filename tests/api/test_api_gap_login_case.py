"""A login's name is matched whatever its letter case at the login form and the token route: "ALICE" or a
full-width "ａｌｉｃｅ" reaches the login "alice" (names are unique case-insensitively, migration 0024), and the
token names the login as stored. A wrong password is still refused. Before: only the exact spelling logged in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import ALICE, PASSWORD, client_on_sqlite
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from client_on_sqlite(tmp_path_factory.mktemp("home"))


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
