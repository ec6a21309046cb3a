"""The audit search takes its instants as RFC 3339 only: a bare number (read as seconds since 1970, an instant
nobody meant) is refused as the schema says, naming the parameter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import PASSWORD, Seeded, auth, seed
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, create_app


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    s: Seeded = seed(tmp_path_factory.mktemp("home"))
    with TestClient(create_app(s.settings, options=ApiOptions(rate_per_second=0))) as client:
        token = client.post("/api/v1/auth/token", data={"username": "admin1", "password": PASSWORD}).json()["access_token"]
        yield client, auth(token)
    s.engine.dispose()


@pytest.mark.parametrize("param", ["since", "until"])
@pytest.mark.parametrize("value", ["-4398046511105", "1700000000", "yesterday"])
def test_an_instant_that_is_not_rfc3339_is_refused(admin: tuple[TestClient, dict[str, str]], param: str, value: str) -> None:
    client, headers = admin
    r = client.get("/api/v1/audit", params={param: value}, headers=headers)
    assert r.status_code == 422, r.text
    assert param in r.text


def test_an_rfc3339_instant_searches(admin: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = admin
    r = client.get("/api/v1/audit", params={"since": "2026-01-01T00:00:00+08:00", "until": "2099-01-01T00:00:00Z"},
                   headers=headers)
    assert r.status_code == 200, r.text
