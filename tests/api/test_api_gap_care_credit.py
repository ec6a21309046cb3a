"""An agent handling a customer gives back a disputed or goodwill charge (``POST /bills/{id}/credits``), on SQLite
and PostgreSQL: a credit entry of the adjustments ledger against an issued bill or a record it charged, never more
than was charged less what was given back before, posted once however often the request is sent, audited, linked
to the complaint it settles, and carried into the next bill as other adjustments are.

Alice's October bill (seed): 53.50 CNY, untaxed; her call to Hong Kong (record ``r-1``) 4.50 of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, BILL_B, PASSWORD, USERS, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.billing import bill_id_for
from fairtel.billing._model import decode_reason
from fairtel.cli._billing import bill_period
from fairtel.cli._rating import rate_period
from fairtel.core.time import Period
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, Adjustment, get_bill
from fairtel.store._schema import table_of


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


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


def credits(seeded: Seeded, msisdn: str) -> list[Any]:
    t = table_of(Adjustment)
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(t).where(t.c.msisdn == msisdn, t.c.kind == "credit").order_by(t.c.created_at, t.c.adjustment_id)))


def post(client: TestClient, token: str, bill_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/bills/{bill_id}/credits", json=body, headers=auth(token))


@pytest.fixture(scope="module")
def handling(client: TestClient, tokens: dict[str, str]) -> str:
    """The agent records Alice's call disputing a charge: they now handle her. Returns the complaint id."""
    r = client.post("/api/v1/complaints", json={"msisdn": ALICE, "category": "billing", "text": "never called Hong Kong",
                                               "channel": "phone"}, headers=auth(tokens["agent1"]))
    assert r.status_code == 201, r.text
    return str(r.json()["complaint_id"])


def test_only_an_agent_handling_the_customer_credits(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    body = {"amount": "3.00", "reason": "goodwill for the outage"}
    r = post(client, tokens["agent1"], BILL_B, **body)  # not handling Bob: his bill is not told to exist
    assert r.status_code == 404, r.text
    assert post(client, tokens["alice"], BILL_A, **body).status_code == 403
    assert post(client, tokens["admin1"], BILL_A, **body).status_code == 403
    assert credits(seeded, ALICE) == []


def test_a_credit_is_posted_once_and_audited(client: TestClient, tokens: dict[str, str], seeded: Seeded, handling: str) -> None:
    agent = tokens["agent1"]
    body = {"amount": "3.5", "reason": "goodwill: dropped calls all week", "complaint_id": handling, "idempotency_key": "desk-0001-a"}
    first = post(client, agent, BILL_A, **body)
    assert first.status_code == 201, first.text
    out = first.json()
    assert out["outcome"] == "credited" and out["bill_id"] == BILL_A
    assert out["adjustment"]["kind"] == "credit" and out["adjustment"]["amount"] == "3.50" and out["remaining"] == "50.00"
    again = post(client, agent, BILL_A, **body)  # a retry: nothing moves again
    assert again.status_code == 201 and again.json()["outcome"] == "credited_before", again.text
    assert again.json()["adjustment"]["adjustment_id"] == out["adjustment"]["adjustment_id"]
    (row,) = credits(seeded, ALICE)
    assert (row.amount_minor, row.currency, row.bill_id, row.period) == (350, "CNY", BILL_A, None)
    assert decode_reason(row.reason) == ("care-credit", {"note": "goodwill: dropped calls all week", "complaint": handling, "currency": "CNY"})
    # the same key for another amount is a conflict, not a second credit
    other = post(client, agent, BILL_A, **{**body, "amount": "4.00"})
    assert other.status_code == 409, other.text
    assert len(credits(seeded, ALICE)) == 1
    a = table_of(AccessAudit)
    subject = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")(ALICE)
    with seeded.engine.connect() as conn:
        audited = list(conn.execute(select(a.c.reason, a.c.subject_msisdn_pseudonym).where(a.c.action == "adjustment.credit")))
    assert len(audited) == 1 and audited[0].subject_msisdn_pseudonym == subject
    assert handling in audited[0].reason and out["adjustment"]["adjustment_id"] in audited[0].reason
    # the complaint is settled with it
    r = client.post(f"/api/v1/complaints/{handling}/resolve", json={"note": "credited 3.50", "refund": out["adjustment"]["adjustment_id"]},
                    headers=auth(agent))
    assert r.status_code == 200 and r.json()["adjustment_id"] == out["adjustment"]["adjustment_id"], r.text


def test_never_more_than_was_charged(client: TestClient, tokens: dict[str, str], seeded: Seeded, handling: str) -> None:
    agent = tokens["agent1"]
    # the call to Hong Kong was charged 4.50: 5.00 is refused, with what remains
    r = post(client, agent, BILL_A, amount="5.00", reason="disputed call to Hong Kong", record_id="r-1")
    assert r.status_code == 409 and r.json()["error"]["details"]["remaining"] == "4.50", r.text
    r = post(client, agent, BILL_A, amount="4.00", reason="disputed call to Hong Kong", record_id="r-1")
    assert r.status_code == 201 and r.json()["remaining"] == "0.50", r.text
    r = post(client, agent, BILL_A, amount="1.00", reason="disputed call again", record_id="r-1")
    assert r.status_code == 409 and r.json()["error"]["details"]["remaining"] == "0.50", r.text
    # a record the bill did not charge: nothing to give back
    assert post(client, agent, BILL_A, amount="1.00", reason="no such call", record_id="r-404").status_code == 404
    # the bill as a whole: 53.50 less 3.50 and 4.00 credited before
    r = post(client, agent, BILL_A, amount="46.01", reason="goodwill, the whole bill")
    assert r.status_code == 409 and r.json()["error"]["details"]["remaining"] == "46.00", r.text
    # amounts finer than a fen, and none at all, are refused as input
    assert post(client, agent, BILL_A, amount="0.001", reason="a tenth of a fen").status_code == 422
    assert post(client, agent, BILL_A, amount="0", reason="nothing at all").status_code == 422
    assert post(client, agent, BILL_A, amount="1.00", reason="   ").status_code == 422
    assert [c.amount_minor for c in credits(seeded, ALICE)] == [350, 400]


def test_the_credit_is_carried_into_the_next_bill(client: TestClient, tokens: dict[str, str], seeded: Seeded, handling: str) -> None:
    ids = {c.adjustment_id for c in credits(seeded, ALICE)}
    assert ids
    rate_period(seeded.app, Period.parse("2026-11", seeded.catalog.operator.timezone), catalog=seeded.catalog)
    bill_period(seeded.app, "2026-11", catalog=seeded.catalog, issue=True, now=datetime(2026, 12, 2, tzinfo=UTC))

    with seeded.engine.connect() as conn:
        nov = get_bill(conn, bill_id_for(ALICE, "2026-11"))
    assert nov is not None
    assert set(nov.adjustment_ids) >= ids
    assert sum(line.amount_minor for line in nov.lines if line.adjustment_id in ids) == -750
