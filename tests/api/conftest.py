from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from fairtel_seed import PASSWORD, USERS, Seeded, seed

from fairtel.api import ApiOptions, create_app


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    s = seed(tmp_path_factory.mktemp("home"))
    yield s
    s.engine.dispose()


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(client: TestClient) -> dict[str, str]:
    out = {}
    for user in USERS:
        r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[user] = r.json()["access_token"]
    return out
