"""Numbers that still reached readers who must not see them: a login named by its phone number (in the audit's
actor, in ``resolved_by`` / ``decided_by``), switch record ids holding the caller's number; and list reads whose
one audit row did not say whose records were read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from fairtel.api._security import hash_password
from fairtel.cli import app as cli
from fairtel.privacy import Pseudonymizer, mask_msisdn
from fairtel.store import AccessAudit, FraudCase, User
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

STAFF_NUMBER = "13912345678"  # an agent's login named by their own phone, made before such names were refused
FRAUD_NUMBER = "13712345678"  # the same, for a fraud analyst
KEY = "test-secret-key-0123456789abcdef"
ASTERISK_ID = f"SIP/{ALICE}-0000001a@2026-10-08 08:00:00"
FREESWITCH_ID = f"call_{ALICE}_7f3e"


def pseudonym(msisdn: str, domain: str = "msisdn") -> str:
    return Pseudonymizer(KEY, domain=domain)(msisdn)


def token(client: TestClient, username: str) -> str:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def audit_rows(seeded: Seeded, request_id: str) -> list[dict[str, object]]:
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).where(t.c.request_id.like(f"%~{request_id}")))]


@pytest.fixture(scope="module")
def legacy(seeded: Seeded) -> None:
    """Logins named by numbers written straight into the table (as they were before the refusal), findings with
    switch record ids, one of them resolved by such a login before names were pseudonymised."""
    now = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(User).insert(), [
            {"username": name, "password_hash": hash_password(PASSWORD), "role": role, "msisdn": None, "disabled": False, "created_at": now}
            for name, role in ((STAFF_NUMBER, "agent"), (FRAUD_NUMBER, "fraud_analyst"))
        ])
        base = {"kind": "unconsented_charge", "subscription_id": None, "amount_minor": 600, "currency": "CNY", "evidence": {}, "detected_at": now}
        conn.execute(table_of(FindingRow).insert(), [
            {**base, "finding_id": "fnd-ids", "msisdn": ALICE, "record_ids": [ASTERISK_ID, FREESWITCH_ID, "r-4"], "status": "open",
             "resolved_at": None, "resolved_by": None, "resolution": None},
            {**base, "finding_id": "fnd-old", "msisdn": BOB, "record_ids": ["r-7"], "status": "dismissed",
             "resolved_at": now, "resolved_by": STAFF_NUMBER, "resolution": "dismissed: duplicate"},
            {**base, "finding_id": "fnd-new", "msisdn": CAROL, "record_ids": ["r-9"], "status": "open",
             "resolved_at": None, "resolved_by": None, "resolution": None},
        ])
        conn.execute(table_of(FraudCase).insert(), [
            {"case_id": "case-num", "detector": "scam", "msisdn": BOB, "score": 0.7, "status": "open", "evidence": {}, "opened_at": now,
             "decided_by": None, "decided_at": None},
        ])


# ---- logins named by numbers -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["13800138000", "8613800138000", "138-0013-8000", "13800138000@mail.example", "agent13800138000"])
def test_a_new_login_named_by_a_phone_number_is_refused(client: TestClient, tokens: dict[str, str], name: str) -> None:
    r = client.post("/api/v1/users", json={"username": name, "password": PASSWORD, "role": "agent"}, headers=auth(tokens["admin1"]))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "input_invalid" and "username" in r.text


def test_a_login_with_a_few_digits_is_still_made(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post("/api/v1/users", json={"username": "agent-2026", "password": PASSWORD, "role": "agent"}, headers=auth(tokens["admin1"]))
    assert r.status_code == 201, r.text


def test_fairtel_users_add_refuses_a_phone_number(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_SECRET_KEY", KEY)
    monkeypatch.setenv("FAIRTEL_ENVIRONMENT", "test")
    r = CliRunner().invoke(cli, ["users", "add", "13800138000", "--role", "agent", "--password-stdin", "--home", str(seeded.settings.home),
                                 "--json"], input=f"{PASSWORD}\n")
    assert r.exit_code == 2, r.output
    assert json.loads(r.stdout)["error"]["code"] == "input_invalid" and "phone number" in r.stdout
    with seeded.engine.connect() as conn:
        assert conn.scalar(select(table_of(User).c.username).where(table_of(User).c.username == "13800138000")) is None
    ok = CliRunner().invoke(cli, ["users", "add", "agent-cli", "--role", "agent", "--password-stdin", "--home", str(seeded.settings.home),
                                  "--json"], input=f"{PASSWORD}\n")
    assert ok.exit_code == 0, ok.output


def test_an_existing_login_named_by_its_number_reaches_readers_as_a_pseudonym(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, legacy: None
) -> None:
    staff, fraud = token(client, STAFF_NUMBER), token(client, FRAUD_NUMBER)
    shown_staff, shown_fraud = pseudonym(STAFF_NUMBER, "login"), pseudonym(FRAUD_NUMBER, "login")
    filed = client.post("/api/v1/complaints", json={"category": "billing", "text": "a charge I do not know", "msisdn": CAROL},
                        headers=auth(staff))  # recording Carol's complaint, the agent handles her: her finding is theirs to resolve
    assert filed.status_code == 201, filed.text
    r = client.post("/api/v1/findings/fnd-new/dismiss", json={"reason": "not a charge"}, headers={**auth(staff), "X-Request-Id": "gap-dismiss"})
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/fraud/cases/case-num/decide", json={"status": "false_alarm"}, headers={**auth(fraud), "X-Request-Id": "gap-decide"})
    assert r.status_code == 200, r.text

    for request_id in ("gap-dismiss", "gap-decide"):  # the audit records who acted by the pseudonym
        rows = audit_rows(seeded, request_id)
        assert rows and {row["actor"] for row in rows} <= {shown_staff, shown_fraud}, rows
    with seeded.engine.connect() as conn:  # nor is the number written into the records others read
        assert conn.scalar(select(table_of(FindingRow).c.resolved_by).where(table_of(FindingRow).c.finding_id == "fnd-new")) == shown_staff
        assert conn.scalar(select(table_of(FraudCase).c.decided_by).where(table_of(FraudCase).c.case_id == "case-num")) == shown_fraud

    findings = client.get("/api/v1/findings", params={"limit": 500}, headers=auth(tokens["analyst1"]))
    assert findings.status_code == 200 and STAFF_NUMBER not in findings.text
    by_id = {f["finding_id"]: f for f in findings.json()["items"]}
    assert by_id["fnd-new"]["resolved_by"] == shown_staff
    assert by_id["fnd-old"]["resolved_by"] == shown_staff  # written before: shown the same way
    assert by_id["fnd-1"]["resolved_by"] is None
    cases = client.get("/api/v1/fraud/cases", params={"limit": 500}, headers=auth(tokens["fraud1"]))
    assert FRAUD_NUMBER not in cases.text
    assert next(c for c in cases.json()["items"] if c["case_id"] == "case-num")["decided_by"] == shown_fraud

    audit = client.get("/api/v1/audit", params={"actor": STAFF_NUMBER, "limit": 500}, headers=auth(tokens["admin1"]))
    assert audit.status_code == 200 and STAFF_NUMBER not in audit.text  # found by the name, shown by its pseudonym
    assert any(a["action"] == "finding.dismiss" and a["actor"] == shown_staff for a in audit.json()["items"])
    same = client.get("/api/v1/audit", params={"actor": shown_staff, "limit": 500}, headers=auth(tokens["admin1"]))
    assert [a["audit_id"] for a in same.json()["items"]] == [a["audit_id"] for a in audit.json()["items"]]
    plain = client.get("/api/v1/audit", params={"actor": "analyst1", "limit": 5}, headers=auth(tokens["admin1"]))
    assert plain.json()["items"] and all(a["actor"] == "analyst1" for a in plain.json()["items"])  # other names as they are


# ---- record ids --------------------------------------------------------------------------------------------
def test_record_ids_holding_a_number_reach_analysts_pseudonymised_and_agents_masked(
    client: TestClient, tokens: dict[str, str], legacy: None
) -> None:
    r = client.get("/api/v1/findings/fnd-ids", headers=auth(tokens["analyst1"]))
    assert r.status_code == 200, r.text
    assert ALICE not in r.text and ALICE[2:] not in r.text
    asterisk, freeswitch, canonical = r.json()["record_ids"]
    # the channel's sequence beside the number reads as a number too: hidden as well, the start time kept
    assert asterisk.startswith(f"SIP/{pseudonym(ALICE)}-") and asterisk.endswith("@2026-10-08 08:00:00")
    assert (freeswitch, canonical) == (FREESWITCH_ID.replace(ALICE, pseudonym(ALICE)), "r-4")
    listed = client.get("/api/v1/findings", params={"limit": 500}, headers=auth(tokens["analyst1"]))
    assert ALICE not in listed.text
    agent = client.get("/api/v1/findings/fnd-ids", headers=auth(tokens["agent1"]))
    assert ALICE not in agent.text and mask_msisdn(ALICE) in agent.json()["record_ids"][0]


# ---- list reads ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("who", "path", "action"), [
    ("analyst1", "/api/v1/findings", "finding.list"),
    ("fraud1", "/api/v1/fraud/cases", "fraud_case.list"),
    ("analyst1", "/api/v1/complaints", "complaint.list"),
    ("agent1", "/api/v1/subscribers", "subscriber.list"),
    ("analyst1", "/api/v1/retention", "retention.list"),
])
def test_a_list_read_is_audited_for_each_subscriber_it_returned(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, legacy: None, who: str, path: str, action: str
) -> None:
    request_id = f"gap-list-{action}"
    r = client.get(path, params={"limit": 500}, headers={**auth(tokens[who]), "X-Request-Id": request_id})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items
    shown = {item["msisdn"] for item in items}
    if who == "agent1":  # masked: the pseudonyms of the three seeded lines, each masked as listed
        assert shown == {mask_msisdn(m) for m in (ALICE, BOB, CAROL)}
        shown = {pseudonym(m) for m in (ALICE, BOB, CAROL)}
    rows = audit_rows(seeded, request_id)
    assert {row["action"] for row in rows} == {action}
    assert sorted(str(row["subject_msisdn_pseudonym"]) for row in rows) == sorted(shown)  # one row per subscriber, no more


def test_a_list_read_of_nobody_still_writes_its_row(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    r = client.get("/api/v1/findings", params={"kind": "no_such_kind"}, headers={**auth(tokens["analyst1"]), "X-Request-Id": "gap-list-empty"})
    assert r.status_code == 200 and r.json()["items"] == []
    rows = audit_rows(seeded, "gap-list-empty")
    assert [(row["action"], row["subject_msisdn_pseudonym"]) for row in rows] == [("finding.list", None)]


def test_an_agents_own_assignments_are_audited_for_each_customer(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    """The list names the customers the agent handles, with their numbers: audited per subscriber like any list
    (it wrote no row: each assignment was audited when it started, not each read of it)."""
    took = client.post("/api/v1/complaints/cmp-1/take", headers=auth(tokens["agent1"]))
    assert took.status_code in (200, 409), took.text
    r = client.get("/api/v1/assignments", headers={**auth(tokens["agent1"]), "X-Request-Id": "gap-assignments"})
    assert r.status_code == 200, r.text
    shown = {item["msisdn"] for item in r.json()}
    assert ALICE in shown
    rows = audit_rows(seeded, "gap-assignments")
    assert {row["action"] for row in rows} == {"assignment.list"}
    assert sorted(str(row["subject_msisdn_pseudonym"]) for row in rows) == sorted(pseudonym(m) for m in shown)
