"""The fraud queue lists each case with its period and the detector's reasons in words at the top level, the
deciding analyst's note beside who decided, and, for a case decided with a suspension, the line's status in the
register now; it can be cut to one period. On SQLite and on PostgreSQL (the period sits in the case's evidence)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, Seeded, auth, seeded_on, simbox_case_row
from fastapi.testclient import TestClient
from sqlalchemy import update

from fairtel.api import ApiOptions, create_app
from fairtel.api._cases import decide_fraud_case, list_fraud_cases
from fairtel.api._security import Principal
from fairtel.core.errors import InvalidInputError
from fairtel.privacy import Pseudonymizer, Role
from fairtel.store import FraudCase as CaseRow
from fairtel.store import Subscriber
from fairtel.store._schema import table_of

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SURE, DOUBT, BARE = "fcs_list_sure", "fcs_list_doubt", "fcs_list_bare"
FRAUD1 = Principal("fraud1", Role.FRAUD_ANALYST)


def _case(case: str, subject: str, period: str, score: float) -> dict[str, Any]:
    return simbox_case_row(case, subject, period, score, T0)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with seeded.engine.begin() as conn:
        conn.execute(
            table_of(CaseRow).insert(),
            [
                _case(SURE, ALICE, "2026-10", 0.9954),
                _case(DOUBT, BOB, "2026-09", 0.61),
                {
                    "case_id": BARE,
                    "detector": "simbox",
                    "msisdn": CAROL,
                    "score": 0.4,
                    "status": "open",  # written by hand
                    "evidence": {"calls_out": 3},
                    "opened_at": T0,
                    "decided_by": None,
                    "decided_at": None,
                },
            ],
        )
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        svc = c.app.state.services  # type: ignore[attr-defined]
        with svc.access(FRAUD1) as acc:
            decide_fraud_case(acc, SURE, "confirmed", note=f"owner reached on {BOB}", suspend=True)
        yield c


def _listed(client: TestClient, query: str = "") -> dict[str, dict[str, Any]]:
    token = client.post("/api/v1/auth/token", data={"username": "fraud1", "password": PASSWORD}).json()["access_token"]
    r = client.get(f"/api/v1/fraud/cases{query}", headers=auth(token))
    assert r.status_code == 200, r.text
    return {c["case_id"]: c for c in r.json()["items"] if c["case_id"] in (SURE, DOUBT, BARE)}


def test_each_case_is_listed_with_its_period_reasons_decision_and_line(client: TestClient, seeded: Seeded) -> None:
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")
    cases = _listed(client)
    sure, doubt, bare = cases[SURE], cases[DOUBT], cases[BARE]
    assert sure["score"] == 0.9954  # as computed, not rounded
    assert (sure["period"], doubt["period"], bare["period"]) == ("2026-10", "2026-09", None)
    assert sure["reasons"] == [
        {
            "code": "calls_out_per_day",
            "en": "165 outgoing calls a day (≥ 40)",
            "zh": "日均主叫 165 次（≥ 40）",
            "value": 164.9,
            "threshold": 40.0,
        }
    ]
    assert bare["reasons"] == [] and bare["evidence"] == {"calls_out": 3}
    assert (sure["decided_by"], sure["note"]) == ("fraud1", f"owner reached on {pseudonym(BOB)}")
    assert BOB not in str(sure) and (doubt["decided_by"], doubt["note"]) == (None, None)
    assert (sure["line"], doubt["line"], bare["line"]) == ("suspended", None, None)

    with seeded.engine.begin() as conn:  # the line brought back into service: the queue says so
        conn.execute(update(table_of(Subscriber)).where(table_of(Subscriber).c.msisdn == ALICE).values(status="active"))
    assert _listed(client)[SURE]["line"] == "active"


def test_the_queue_is_cut_to_one_period(client: TestClient) -> None:
    svc = client.app.state.services  # type: ignore[attr-defined]
    with svc.access(FRAUD1) as acc:
        assert [c.case_id for c in list_fraud_cases(acc, period="2026-10").items] == [SURE]
        assert [c.case_id for c in list_fraud_cases(acc, period="2026-09").items] == [DOUBT]
        assert list_fraud_cases(acc, period="2025-01").items == []
        both = {c.case_id for c in list_fraud_cases(acc).items}
    assert {SURE, DOUBT, BARE} <= both
    with pytest.raises(InvalidInputError) as bad, svc.access(FRAUD1) as acc:
        list_fraud_cases(acc, period="2026-13")
    assert bad.value.problems[0].field == "period"
    assert set(_listed(client, "?period=2026-10")) == {SURE}  # the route takes the filter
    token = client.post("/api/v1/auth/token", data={"username": "fraud1", "password": PASSWORD}).json()["access_token"]
    assert client.get("/api/v1/fraud/cases?period=2026-13", headers=auth(token)).status_code == 422


def test_paging_a_period_keeps_to_it(client: TestClient, seeded: Seeded, tmp_path: Path) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(
            table_of(CaseRow).insert(), [_case(f"fcs_list_more_{i}", CAROL, "2026-09", 0.5 - i / 100) for i in range(3)]
        )
    svc = client.app.state.services  # type: ignore[attr-defined]
    seen, cursor = [], None
    while True:
        with svc.access(FRAUD1) as acc:
            page = list_fraud_cases(acc, period="2026-09", limit=2, cursor=cursor)
        seen += [c.case_id for c in page.items]
        assert all(c.period == "2026-09" for c in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [DOUBT, "fcs_list_more_0", "fcs_list_more_1", "fcs_list_more_2"]
