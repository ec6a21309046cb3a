"""A survey answer's comment keeps no resident ID or bank-card number: the API stores them as their marks, as the
command line's survey import does (survey comments are shown to nobody who needs the number)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fairtel_seed import ALICE, PASSWORD, Seeded, seed
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.store import Survey
from fairtel.store._schema import table_of

ID_NUMBER = "110101199003071234"
CARD = "6222021234567890128"  # passes the Luhn check, as a real card number does


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    s = seed(tmp_path_factory.mktemp("home"))
    yield s
    s.engine.dispose()


def test_a_survey_comment_is_stored_without_id_or_card_numbers(seeded: Seeded) -> None:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0))) as client:
        token = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}).json()["access_token"]
        comment = f"退款请打到卡 {CARD}，身份证号{ID_NUMBER}"
        r = client.post("/api/v1/me/surveys", json={"score": 3, "comment": comment}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        sid = r.json()["survey_id"]
    with seeded.engine.connect() as conn:
        v = table_of(Survey)
        stored = conn.scalar(select(v.c.comment).where(v.c.survey_id == sid, v.c.msisdn == ALICE))
    assert stored is not None and "退款请打到卡" in stored
    assert ID_NUMBER not in stored and CARD not in stored, stored
