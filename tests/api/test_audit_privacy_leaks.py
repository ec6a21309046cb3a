"""Personal data that reached the wrong role, or reads that left no trace in the access audit.

Each test names the way the number (or the read) escaped: an id derived from the number, an answer that
differs with the number's presence, an order that follows the numbers, free text, or a failed read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, BILL_B, BOB, CAROL, PERIOD, Seeded, auth, seed
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from fairtel.billing import bill_id_for
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit
from fairtel.store._schema import table_of

NOT_A_SUBSCRIBER = "8613600136000"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The seeded home (tests/api/conftest.py), on SQLite and in a private schema on PostgreSQL."""
    home: Path = tmp_path_factory.mktemp("home")
    if request.param == "sqlite":
        s = seed(home)
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
        yield s
        s.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def pseudonym(seeded: Seeded, msisdn: str) -> str:
    return Pseudonymizer(seeded.settings.secret_key.get_secret_value())(msisdn)


def audit_rows(seeded: Seeded, actor: str) -> list[Any]:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(t).where(t.c.actor == actor).order_by(t.c.audit_id)))


@pytest.mark.parametrize("user", ["analyst1", "fraud1", "admin1"])
def test_a_bill_id_does_not_tell_analysts_whether_a_number_is_a_customer(client: TestClient, tokens: dict[str, str], user: str) -> None:
    """Bill ids are computable from a number and a period: a 403 for an existing bill beside a 404 for a missing
    one would confirm that the number is a customer."""
    present = client.get(f"/api/v1/bills/{bill_id_for(CAROL, PERIOD)}", headers=auth(tokens[user]))
    absent = client.get(f"/api/v1/bills/{bill_id_for(NOT_A_SUBSCRIBER, PERIOD)}", headers=auth(tokens[user]))
    assert (present.status_code, present.json()["error"]["code"]) == (absent.status_code, absent.json()["error"]["code"])
    present_lines = client.get(f"/api/v1/bills/{bill_id_for(CAROL, PERIOD)}/lines", headers=auth(tokens[user]))
    absent_lines = client.get(f"/api/v1/bills/{bill_id_for(NOT_A_SUBSCRIBER, PERIOD)}/lines", headers=auth(tokens[user]))
    assert present_lines.status_code == absent_lines.status_code


def test_a_refused_read_is_audited(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    before = len(audit_rows(seeded, "analyst1"))
    assert client.get(f"/api/v1/subscribers/{ALICE}", headers=auth(tokens["analyst1"])).status_code == 403
    rows = audit_rows(seeded, "analyst1")[before:]
    assert [(r.action, r.subject_msisdn_pseudonym) for r in rows] == [("access.denied", pseudonym(seeded, ALICE))]
    assert "permission_denied" in rows[0].reason and rows[0].resource == "GET /api/v1/subscribers/{msisdn}"

    # an agent probing a customer they do not handle
    before = len(audit_rows(seeded, "agent1"))
    r = client.get(f"/api/v1/subscribers/{BOB}/bills", headers=auth(tokens["agent1"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "assignment_required"
    rows = audit_rows(seeded, "agent1")[before:]
    assert [(r.action, r.subject_msisdn_pseudonym) for r in rows] == [("access.denied", pseudonym(seeded, BOB))]

    # a subscriber asking for another's bill is told nothing, and the attempt is on record
    before = len(audit_rows(seeded, "alice"))
    assert client.get(f"/api/v1/bills/{BILL_B}", headers=auth(tokens["alice"])).status_code == 404
    rows = audit_rows(seeded, "alice")[before:]
    assert [(r.action, r.subject_msisdn_pseudonym) for r in rows] == [("access.denied", pseudonym(seeded, BOB))]
    assert BOB not in str([tuple(r) for r in rows])


def test_a_read_that_finds_nothing_is_audited(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    before = len(audit_rows(seeded, "alice"))
    r = client.get("/api/v1/me/bills/2025-01", headers=auth(tokens["alice"]))
    assert r.status_code == 404
    rows = audit_rows(seeded, "alice")[before:]
    assert [(r.action, r.resource, r.subject_msisdn_pseudonym) for r in rows] == [("bill.read", "bill/2025-01", pseudonym(seeded, ALICE))]
    assert "not_found" in rows[0].reason


def test_numbers_in_free_text_reach_neither_analysts_nor_the_audit(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    taken = client.post("/api/v1/complaints/cmp-2/take", headers=auth(tokens["agent1"]))  # handling Bob, whose finding it is
    assert taken.status_code == 200, taken.text
    r = client.post("/api/v1/findings/fnd-2/dismiss", json={"reason": f"called {BOB}, the second charge was a retry"},
                    headers=auth(tokens["agent1"]))
    assert r.status_code == 200, r.text
    assert client.post(f"/api/v1/assignments/{taken.json()['assignment_id']}/release", headers=auth(tokens["agent1"])).status_code == 204
    finding = client.get("/api/v1/findings/fnd-2", headers=auth(tokens["analyst1"]))
    assert finding.status_code == 200
    assert BOB not in finding.text and pseudonym(seeded, BOB) in finding.json()["resolution"]
    listed = client.get("/api/v1/findings", headers=auth(tokens["analyst1"]))
    assert BOB not in listed.text

    r = client.post("/api/v1/fraud/cases/case-1/reveal", json={"reason": f"block {CAROL}; she called {ALICE} back"},
                    headers=auth(tokens["fraud1"]))
    assert r.status_code == 200 and r.json()["msisdn"] == CAROL
    audit = client.get("/api/v1/audit", params={"limit": 500}, headers=auth(tokens["admin1"]))
    assert audit.status_code == 200
    for n in (ALICE, BOB, CAROL):
        assert n not in audit.text, f"the audit shows the number {n}"
    reasons = [row["reason"] for row in audit.json()["items"] if row["action"] == "fraud_case.reveal_number"]
    assert reasons == [f"block {pseudonym(seeded, CAROL)}; she called {pseudonym(seeded, ALICE)} back"]


def test_the_audit_does_not_name_a_bill_by_an_id_computed_from_the_number(client: TestClient, tokens: dict[str, str]) -> None:
    """A bill id is an unkeyed hash of the number and the period: in the audit it would let an admin recover the
    number by trying every number of a range."""
    assert client.get(f"/api/v1/bills/{BILL_A}", headers=auth(tokens["alice"])).status_code == 200
    assert client.get(f"/api/v1/bills/{BILL_A}/lines", headers=auth(tokens["alice"])).status_code == 200
    audit = client.get("/api/v1/audit", params={"actor": "alice", "action": "bill.read"}, headers=auth(tokens["admin1"])).json()
    assert audit["items"]
    assert BILL_A not in str(audit)
    assert {row["resource"] for row in audit["items"]} >= {f"bill/{PERIOD}"}


def test_an_audit_search_by_number_is_itself_audited_with_its_subject(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    before = len(audit_rows(seeded, "admin1"))
    assert client.get("/api/v1/audit", params={"msisdn": CAROL}, headers=auth(tokens["admin1"])).status_code == 200
    rows = audit_rows(seeded, "admin1")[before:]
    assert [(r.action, r.subject_msisdn_pseudonym) for r in rows] == [("audit.search", pseudonym(seeded, CAROL))]
