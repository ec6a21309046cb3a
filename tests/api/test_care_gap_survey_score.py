"""``POST /me/surveys`` takes a score only as a JSON whole number from 0 to 10: a boolean, a float or a string is
a 422 on ``score`` and nothing is stored. Before, ``true`` was stored as a score of 1 (a detractor), and ``7.0`` or
``"7"`` as 7, where the command line's import and ``care.check_score`` refuse them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, seed
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fairtel.api import ApiOptions, create_app
from fairtel.store import Survey
from fairtel.store._schema import table_of


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    s = seed(tmp_path_factory.mktemp("home"))
    yield s
    s.engine.dispose()


def _answers(seeded: Seeded) -> int:
    v = table_of(Survey)
    with seeded.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(v).where(v.c.msisdn == ALICE)) or 0)


def test_a_score_is_a_whole_number_as_json_writes_it(seeded: Seeded) -> None:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0))) as client:
        token = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        before = _answers(seeded)
        for score in (True, False, 7.0, "7", 7.5, None):
            r = client.post("/api/v1/me/surveys", json={"score": score}, headers=headers)
            assert r.status_code == 422, (score, r.text)
            assert "score" in r.text, r.text
        assert _answers(seeded) == before
        for score in (0, 7, 10):
            r = client.post("/api/v1/me/surveys", json={"score": score}, headers=headers)
            assert r.status_code == 201 and r.json()["score"] == score, r.text
        assert _answers(seeded) == before + 3
