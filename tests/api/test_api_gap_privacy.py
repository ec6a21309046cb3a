"""Ways personal numbers and guesses got past the API's defences: numbers written with dashes or spaces, as
integers or as keys; a page that may take a ``<base>``; login limits that a differently spelt name, another
name or a neighbouring IPv6 address reset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, create_app
from fairtel.privacy import Pseudonymizer
from fairtel.store import Finding as FindingRow
from fairtel.store import FraudCase
from fairtel.store._schema import table_of

WRONG = "not-the-password"


def pseudonym(seeded: Seeded, msisdn: str) -> str:
    return Pseudonymizer(seeded.settings.secret_key.get_secret_value())(msisdn)


def spellings(msisdn: str) -> list[str]:
    """How people write ``86 138 0013 8000``: the plain forms and the national ones, with dashes and spaces."""
    national = msisdn[2:]
    a, b, c = national[:3], national[3:7], national[7:]
    return [msisdn, national, f"{a}-{b}-{c}", f"{a} {b} {c}", f"+86 {a} {b} {c}", f"{b}-{c}", f"{b} {c}"]


# ---- numbers however written ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def evidence(seeded: Seeded) -> None:
    now = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert(), [{
            "finding_id": "fnd-gap", "kind": "unconsented_charge", "msisdn": ALICE, "subscription_id": None, "record_ids": ["r-4"],
            "amount_minor": 600, "currency": "CNY", "status": "open", "detected_at": now, "resolved_at": None, "resolved_by": None,
            "resolution": None,
            "evidence": {ALICE: {"charges": 2}, "peer": int(BOB), "peers": [int(CAROL), 12], "callbacks": 12, "disputed": True,
                         "note": "called back 139-0013-9000 and +86 137 0013 7000", "at": "2026-10-03T20:00:00+08:00",
                         "amount": "6.00", "fee": 1234567.5},
        }])
        conn.execute(table_of(FraudCase).insert(), [{
            "case_id": "case-gap", "detector": "wangiri", "msisdn": CAROL, "score": 0.5, "status": "open", "opened_at": now,
            "decided_by": None, "decided_at": None, "evidence": {"victims": {BOB: 3}, "first": int(ALICE), "script": "call 138 0013 8000"},
        }])


def test_numbers_in_evidence_reach_analysts_as_pseudonyms_however_written(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, evidence: None
) -> None:
    r = client.get("/api/v1/findings/fnd-gap", headers=auth(tokens["analyst1"]))
    assert r.status_code == 200, r.text
    got = r.json()["evidence"]
    for n in (ALICE, BOB, CAROL):
        for written in spellings(n):
            assert written not in r.text, f"{written} reached the analyst"
    assert got[pseudonym(seeded, ALICE)] == {"charges": 2}  # a key
    assert got["peer"] == pseudonym(seeded, BOB)  # an integer
    assert got["peers"] == [pseudonym(seeded, CAROL), 12]  # small counts stay counts
    assert got["note"] == f"called back {pseudonym(seeded, '13900139000')} and {pseudonym(seeded, CAROL)}"
    assert (got["callbacks"], got["disputed"], got["at"], got["amount"], got["fee"]) == (12, True, "2026-10-03T20:00:00+08:00", "6.00", 1234567.5)
    listed = client.get("/api/v1/findings", params={"limit": 500}, headers=auth(tokens["analyst1"]))
    for n in (ALICE, BOB, CAROL):
        assert str(n) not in listed.text and f"{n[2:5]}-{n[5:9]}-{n[9:]}" not in listed.text

    cases = client.get("/api/v1/fraud/cases", params={"limit": 500}, headers=auth(tokens["fraud1"]))
    assert cases.status_code == 200
    case = next(c for c in cases.json()["items"] if c["case_id"] == "case-gap")
    assert case["evidence"] == {"victims": {pseudonym(seeded, BOB): 3}, "first": pseudonym(seeded, ALICE),
                                "script": f"call {pseudonym(seeded, '13800138000')}"}


def test_numbers_in_reasons_reach_the_audit_as_pseudonyms_however_written(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, evidence: None
) -> None:
    reason = "customer 138 0013 8000 disputes it; the provider called +86-139-0013-9000 and ８６１３７００１３７０００"
    taken = client.post("/api/v1/complaints/cmp-1/take", headers=auth(tokens["agent1"]))  # handling Alice, whose finding it is
    assert taken.status_code == 200, taken.text
    r = client.post("/api/v1/findings/fnd-gap/dismiss", json={"reason": reason}, headers=auth(tokens["agent1"]))
    assert r.status_code == 200, r.text
    assert client.post(f"/api/v1/assignments/{taken.json()['assignment_id']}/release", headers=auth(tokens["agent1"])).status_code == 204
    audit = client.get("/api/v1/audit", params={"actor": "agent1", "action": "finding.dismiss"}, headers=auth(tokens["admin1"]))
    assert audit.status_code == 200
    row = next(i for i in audit.json()["items"] if i["resource"] == "finding/fnd-gap")
    assert row["reason"] == (f"customer {pseudonym(seeded, ALICE)} disputes it; the provider called "
                             f"{pseudonym(seeded, BOB)} and {pseudonym(seeded, CAROL)}")
    finding = client.get("/api/v1/findings/fnd-gap", headers=auth(tokens["analyst1"])).json()
    assert "0013" not in (finding["resolution"] or "")  # the resolution shown to analysts too

    # a login named by a number is refused (it would put the number in the audit's actors and resources), and the
    # refusal does not put it in the audit either
    made = client.post("/api/v1/users", json={"username": "8613655556666", "password": PASSWORD, "role": "agent"},
                       headers=auth(tokens["admin1"]))
    assert made.status_code == 422, made.text
    rows = client.get("/api/v1/audit", params={"actor": "admin1"}, headers=auth(tokens["admin1"])).json()["items"]
    assert "8613655556666" not in str(rows)


# ---- the content security policy -----------------------------------------------------------------------
def test_the_security_policy_closes_base_objects_forms_and_frames(client: TestClient, tokens: dict[str, str]) -> None:
    for r in (client.get("/api/v1/health"), client.get("/api/v1/me", headers=auth(tokens["alice"])), client.get("/api/v1/nowhere")):
        policy = dict(
            (d.split()[0], d.split()[1:]) for d in r.headers["content-security-policy"].split(";") if d.strip()
        )
        assert policy["base-uri"] == ["'none'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["script-src"] == ["'none'"]
        assert policy["form-action"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["default-src"] == ["'self'"]


# ---- login limits --------------------------------------------------------------------------------------
@pytest.fixture
def fresh(seeded: Seeded) -> Iterator[TestClient]:
    """A server of its own: its login limits start full (10 attempts a minute)."""
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def attempt(app_client: TestClient, username: str, password: str = WRONG, *, address: str = "testclient") -> int:
    c = app_client if address == "testclient" else TestClient(app_client.app, client=(address, 40000))
    return c.post("/api/v1/auth/token", data={"username": username, "password": password}).status_code


def test_a_name_spelt_differently_is_the_same_user_to_the_limit(fresh: TestClient) -> None:
    variants = ["alice", "Alice", "ALICE", " alice", "alice ", "ａｌｉｃｅ", "aLice", "alicE", "\talice", "ALICE "]
    for i, name in enumerate(variants):  # from ten addresses, so that only the user's limit can stop it
        assert attempt(fresh, name, address=f"192.0.2.{i + 1}") == 401, name
    assert attempt(fresh, "alice", PASSWORD, address="192.0.2.99") == 429


def test_many_names_from_one_address_are_limited(fresh: TestClient) -> None:
    for i in range(10):
        assert attempt(fresh, f"nobody{i}", address="198.51.100.7") == 401
    assert attempt(fresh, "bob", PASSWORD, address="198.51.100.7") == 429
    assert attempt(fresh, "bob", PASSWORD, address="198.51.100.8") == 200


def test_an_ipv6_client_is_its_whole_64(fresh: TestClient) -> None:
    for i in range(10):
        assert attempt(fresh, f"nobody{i}", address=f"2001:db8:1:2::{i + 1:x}") == 401
    assert attempt(fresh, "bob", PASSWORD, address="2001:db8:1:2:ffff:ffff:ffff:fffe") == 429
    assert attempt(fresh, "bob", PASSWORD, address="2001:db8:1:3::1") == 200


def test_successful_logins_do_not_use_up_the_limit(fresh: TestClient) -> None:
    """People behind one address (an office) log in all day; only failed attempts count."""
    for _ in range(15):
        assert attempt(fresh, "agent1", PASSWORD) == 200
    for _ in range(10):
        assert attempt(fresh, "agent1") == 401
    assert attempt(fresh, "agent1", PASSWORD) == 429
