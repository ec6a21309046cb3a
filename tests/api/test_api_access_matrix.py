"""Every role against every endpoint: what is allowed is asserted allowed, what is not is asserted refused.

A new endpoint without a row here fails ``test_every_route_is_in_the_matrix``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fairtel_seed import ALICE, BILL_A, BILL_B, BOB, CAROL, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fairtel.store import AccessAudit, TroubleTicket
from fairtel.store._schema import table_of

ROLES = {"subscriber": "alice", "agent": "agent1", "analyst": "analyst1", "fraud_analyst": "fraud1", "admin": "admin1"}
ALL = frozenset(ROLES)
STAFF_AGG = frozenset({"analyst", "fraud_analyst", "admin"})


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    route: str  # the OpenAPI path template
    allowed: frozenset[str]
    body: dict[str, Any] | None = None
    denied_status: dict[str, int] | None = None  # a refusal that answers 404 so as not to confirm existence
    personal: bool = False  # reads personal data: must leave an audit row


def R(method: str, path: str, route: str, allowed: set[str] | frozenset[str], body: dict[str, Any] | None = None, **kw: Any) -> Row:
    return Row(method, path, route, frozenset(allowed), body, **kw)


MATRIX = [
    R("GET", "/api/v1/auth/me", "/api/v1/auth/me", ALL),
    R("GET", "/api/v1/me", "/api/v1/me", {"subscriber"}, personal=True),
    R("GET", "/api/v1/me/bills", "/api/v1/me/bills", {"subscriber"}, personal=True),
    R("GET", "/api/v1/me/bills/2026-10", "/api/v1/me/bills/{period}", {"subscriber"}, personal=True),
    R("GET", "/api/v1/me/usage", "/api/v1/me/usage", {"subscriber"}, personal=True),
    R("GET", "/api/v1/me/subscriptions", "/api/v1/me/subscriptions", {"subscriber"}, personal=True),
    R("POST", "/api/v1/me/subscriptions", "/api/v1/me/subscriptions", {"subscriber"}, {"offer_id": "vas-news-5"}),
    R("POST", "/api/v1/me/subscriptions/sub-none/confirm", "/api/v1/me/subscriptions/{subscription_id}/confirm", {"subscriber"}),
    R("POST", "/api/v1/me/subscriptions/sub-none/resend-code", "/api/v1/me/subscriptions/{subscription_id}/resend-code", {"subscriber"}),
    R("POST", "/api/v1/subscriptions/sub-none/cancel", "/api/v1/subscriptions/{subscription_id}/cancel", {"subscriber", "agent"}),
    R("GET", "/api/v1/me/roaming-cap", "/api/v1/me/roaming-cap", {"subscriber"}, personal=True),
    R("GET", "/api/v1/me/data-export", "/api/v1/me/data-export", {"subscriber"}, personal=True),
    R("PUT", "/api/v1/me/roaming-cap", "/api/v1/me/roaming-cap", {"subscriber"}, {"amount": "100"}),
    R("POST", "/api/v1/me/surveys", "/api/v1/me/surveys", {"subscriber"}, {"score": 8}),
    R("GET", "/api/v1/me/marketing", "/api/v1/me/marketing", {"subscriber"}, personal=True),
    R("PUT", "/api/v1/me/marketing", "/api/v1/me/marketing", {"subscriber"}, {"opted_out": False}),
    R("POST", "/api/v1/chat", "/api/v1/chat", {"subscriber"}, {"message": "why is my bill so high"}),
    R("GET", "/api/v1/offers", "/api/v1/offers", ALL),
    R("GET", "/api/v1/subscribers", "/api/v1/subscribers", {"agent"} | STAFF_AGG, personal=True),
    R("GET", f"/api/v1/subscribers/{ALICE}", "/api/v1/subscribers/{msisdn}", {"subscriber", "agent"}, personal=True),
    R("GET", f"/api/v1/subscribers/{BOB}", "/api/v1/subscribers/{msisdn}", set()),
    R("GET", f"/api/v1/subscribers/{ALICE}/bills", "/api/v1/subscribers/{msisdn}/bills", {"subscriber", "agent"}, personal=True),
    R("GET", f"/api/v1/subscribers/{BOB}/bills", "/api/v1/subscribers/{msisdn}/bills", set()),
    R("GET", f"/api/v1/subscribers/{ALICE}/usage", "/api/v1/subscribers/{msisdn}/usage", {"subscriber", "agent"}, personal=True),
    R("GET", f"/api/v1/subscribers/{BOB}/usage", "/api/v1/subscribers/{msisdn}/usage", set()),
    R("GET", f"/api/v1/subscribers/{ALICE}/subscriptions", "/api/v1/subscribers/{msisdn}/subscriptions", {"subscriber", "agent"}, personal=True),
    R("GET", f"/api/v1/subscribers/{BOB}/subscriptions", "/api/v1/subscribers/{msisdn}/subscriptions", set()),
    R("GET", f"/api/v1/subscribers/{ALICE}/marketing", "/api/v1/subscribers/{msisdn}/marketing", {"subscriber", "agent"}, personal=True),
    R("GET", f"/api/v1/subscribers/{BOB}/marketing", "/api/v1/subscribers/{msisdn}/marketing", set()),
    R("PUT", f"/api/v1/subscribers/{ALICE}/marketing", "/api/v1/subscribers/{msisdn}/marketing", {"subscriber", "agent"}, {"opted_out": False}),
    R("PUT", f"/api/v1/subscribers/{BOB}/marketing", "/api/v1/subscribers/{msisdn}/marketing", set(), {"opted_out": False}),
    R("GET", f"/api/v1/subscribers/{ALICE}/data-export", "/api/v1/subscribers/{msisdn}/data-export", {"subscriber", "agent"}, personal=True),
    R("GET", f"/api/v1/subscribers/{BOB}/data-export", "/api/v1/subscribers/{msisdn}/data-export", set()),
    R("GET", f"/api/v1/bills/{BILL_A}", "/api/v1/bills/{bill_id}", {"subscriber", "agent"}, personal=True),
    R("GET", f"/api/v1/bills/{BILL_B}", "/api/v1/bills/{bill_id}", set(), denied_status={"subscriber": 404, "agent": 404}),
    R("GET", f"/api/v1/bills/{BILL_A}/lines", "/api/v1/bills/{bill_id}/lines", {"subscriber", "agent"}, personal=True),
    R("GET", f"/api/v1/bills/{BILL_B}/lines", "/api/v1/bills/{bill_id}/lines", set(), denied_status={"subscriber": 404, "agent": 404}),
    R("GET", "/api/v1/complaints", "/api/v1/complaints", ALL, personal=True),
    R("POST", f"/api/v1/bills/{BILL_A}/credits", "/api/v1/bills/{bill_id}/credits", {"agent"}, {"amount": "0.01", "reason": "matrix goodwill"}),
    R("POST", f"/api/v1/bills/{BILL_B}/credits", "/api/v1/bills/{bill_id}/credits", set(), {"amount": "0.01", "reason": "matrix goodwill"},
      denied_status={"agent": 404}),
    R("POST", "/api/v1/complaints", "/api/v1/complaints", {"subscriber", "agent"}, {"category": "billing", "text": "matrix", "msisdn": ALICE}),
    R("POST", "/api/v1/complaints/cmp-none/take", "/api/v1/complaints/{complaint_id}/take", {"agent"}),
    R("POST", "/api/v1/complaints/cmp-none/close", "/api/v1/complaints/{complaint_id}/close", {"agent", "admin"}),
    R("POST", "/api/v1/complaints/cmp-none/resolve", "/api/v1/complaints/{complaint_id}/resolve", {"agent", "admin"}, {"note": "matrix"}),
    R("POST", "/api/v1/complaints/cmp-none/reopen", "/api/v1/complaints/{complaint_id}/reopen", {"subscriber", "agent", "admin"}),
    R("GET", "/api/v1/complaints/cmp-1/history", "/api/v1/complaints/{complaint_id}/history", {"subscriber", "agent", "admin"}, personal=True),
    # bob's complaint: alice is not told it exists, the agent does not handle bob; the admin supervises (pseudonyms)
    R("GET", "/api/v1/complaints/cmp-2/history", "/api/v1/complaints/{complaint_id}/history", {"admin"}, denied_status={"subscriber": 404}),
    R("POST", "/api/v1/complaints/cmp-2/resolve", "/api/v1/complaints/{complaint_id}/resolve", {"admin"}, {"note": "matrix"}),
    R("POST", "/api/v1/complaints/cmp-2/reopen", "/api/v1/complaints/{complaint_id}/reopen", {"admin"}, denied_status={"subscriber": 404}),
    R("POST", "/api/v1/complaints/cmp-2/close", "/api/v1/complaints/{complaint_id}/close", {"admin"}),
    R("GET", "/api/v1/tickets", "/api/v1/tickets", ALL, personal=True),
    R("POST", "/api/v1/tickets/tkt-none/take", "/api/v1/tickets/{ticket_id}/take", {"agent"}),
    # alice's hand-off: the agent handles alice (cmp-1); nobody else reads a transcript, analysts included
    R("GET", "/api/v1/tickets/tkt-1/transcript", "/api/v1/tickets/{ticket_id}/transcript", {"agent"}, personal=True),
    R("GET", "/api/v1/tickets/tkt-2/transcript", "/api/v1/tickets/{ticket_id}/transcript", set()),
    R("POST", "/api/v1/tickets/tkt-1/notes", "/api/v1/tickets/{ticket_id}/notes", {"agent"}, {"note": "matrix"}),
    R("POST", "/api/v1/tickets/tkt-2/notes", "/api/v1/tickets/{ticket_id}/notes", set(), {"note": "matrix"}),
    R("POST", "/api/v1/tickets/tkt-none/resolve", "/api/v1/tickets/{ticket_id}/resolve", {"agent"}, {"note": "matrix"}),
    R("POST", "/api/v1/tickets/tkt-2/resolve", "/api/v1/tickets/{ticket_id}/resolve", set(), {"note": "matrix"}),
    R("POST", "/api/v1/tickets/tkt-none/close", "/api/v1/tickets/{ticket_id}/close", {"agent"}),
    R("GET", "/api/v1/assignments", "/api/v1/assignments", {"agent"}),
    R("POST", "/api/v1/assignments/asg-none/release", "/api/v1/assignments/{assignment_id}/release", {"agent"}),
    R("GET", "/api/v1/findings", "/api/v1/findings", {"agent", "analyst"}, personal=True),
    R("GET", "/api/v1/findings/fnd-2", "/api/v1/findings/{finding_id}", {"agent", "analyst"}, personal=True),
    R("POST", "/api/v1/findings/fnd-none/refund", "/api/v1/findings/{finding_id}/refund", {"agent"}),
    R("POST", "/api/v1/findings/fnd-none/dismiss", "/api/v1/findings/{finding_id}/dismiss", {"agent"}, {"reason": "matrix test"}),
    R("GET", "/api/v1/fraud/cases", "/api/v1/fraud/cases", {"fraud_analyst"}, personal=True),
    R("POST", "/api/v1/fraud/cases/case-none/decide", "/api/v1/fraud/cases/{case_id}/decide", {"fraud_analyst"}, {"status": "confirmed"}),
    R("POST", "/api/v1/fraud/cases/case-none/reveal", "/api/v1/fraud/cases/{case_id}/reveal", {"fraud_analyst"}, {"reason": "block the line"}),
    R("GET", "/api/v1/kpis", "/api/v1/kpis", STAFF_AGG),
    R("GET", "/api/v1/retention", "/api/v1/retention", {"analyst"}, personal=True),
    R("GET", "/api/v1/audit", "/api/v1/audit", {"admin"}),
    R("GET", "/api/v1/users", "/api/v1/users", {"admin"}),
    R("POST", "/api/v1/users", "/api/v1/users", {"admin"}, {"username": "newagent", "password": "another-long-pass", "role": "agent"}),
    R("POST", "/api/v1/users/nobody/disable", "/api/v1/users/{username}/disable", {"admin"}),
    R("POST", "/api/v1/users/analyst1/api-keys", "/api/v1/users/{username}/api-keys", {"admin"}, {"label": "matrix"}),
    R("DELETE", "/api/v1/api-keys/key-none", "/api/v1/api-keys/{key_id}", {"admin"}),
]
PUBLIC = {("GET", "/api/v1/health"), ("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/logout")}


@pytest.fixture(scope="module", autouse=True)
def tickets(seeded: Seeded) -> None:
    """Alice's hand-off (its conversation names carol's number) and bob's fault report, as the assistant opens them."""
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(TroubleTicket).insert(), [
            {"ticket_id": "tkt-1", "msisdn": ALICE, "region": "Shanghai", "category": "agent_handoff", "priority": 2, "status": "open",
             "opened_at": at, "resolved_at": None,
             "summary": f"chat chat_01matrix\nuser: my bill is wrong, {CAROL} never called me\nassistant: I'll put you through."},
            {"ticket_id": "tkt-2", "msisdn": BOB, "region": "Beijing", "category": "no_signal", "priority": 1, "status": "open",
             "opened_at": at, "resolved_at": None, "summary": "no_signal at home since yesterday (reported in chat chat_01bob)"},
        ])


@pytest.fixture(scope="module")
def agent_handles_alice(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post("/api/v1/complaints/cmp-1/take", headers=auth(tokens["agent1"]))
    assert r.status_code == 200, r.text


def _call(client: TestClient, row: Row, headers: dict[str, str]) -> Any:
    return client.request(row.method, row.path, headers=headers, json=row.body)


def test_every_route_is_in_the_matrix(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    covered = {(r.method, r.route) for r in MATRIX} | PUBLIC
    assert routes - covered == set(), "endpoints without a row in the access matrix"
    assert covered - routes == set(), "matrix rows for endpoints that do not exist"


@pytest.mark.parametrize("row", MATRIX, ids=lambda r: f"{r.method} {r.path}")
def test_role_matrix(client: TestClient, tokens: dict[str, str], agent_handles_alice: None, row: Row) -> None:
    outcome = {}
    for role, user in ROLES.items():
        r = _call(client, row, auth(tokens[user]))
        outcome[role] = r.status_code
        if role in row.allowed:
            assert r.status_code not in (401, 403), f"{role} refused: {r.status_code} {r.text}"
            assert r.status_code < 500 or r.json()["error"]["code"] == "assistant_unavailable", r.text
        else:
            expected = (row.denied_status or {}).get(role, 403)
            assert r.status_code == expected, f"{role} should be refused with {expected}: {r.status_code} {r.text}"
            assert r.json()["error"]["code"] in ("permission_denied", "assignment_required", "not_found")
    # Without credentials, every one of them asks for a login.
    r = _call(client, row, {})
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    assert r.headers["www-authenticate"] == "Bearer"


SEEDED_NUMBERS = (ALICE, BOB, CAROL)


@pytest.mark.parametrize("role", ["analyst", "fraud_analyst", "admin"])
def test_analysts_never_receive_a_plain_number(client: TestClient, tokens: dict[str, str], role: str) -> None:
    seen = 0
    for row in MATRIX:
        if row.method != "GET" or role not in row.allowed:
            continue
        r = client.get(row.path, headers=auth(tokens[ROLES[role]]))
        assert r.status_code == 200, r.text
        text = r.text
        for n in SEEDED_NUMBERS:
            assert n not in text, f"{row.path} gave {role} the number {n}"
        seen += 1
    assert seen >= 2
    # and what they do get in place of numbers is a stable keyed pseudonym
    a = client.get("/api/v1/findings", headers=auth(tokens["analyst1"])).json()["items"]
    b = client.get("/api/v1/findings", headers=auth(tokens["analyst1"])).json()["items"]
    assert [f["msisdn"] for f in a] == [f["msisdn"] for f in b]
    assert all(re.fullmatch(r"p[0-9a-z]{20}", f["msisdn"]) for f in a)


def _audit_count(seeded: Seeded, actor: str) -> int:
    with seeded.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(AccessAudit).where(AccessAudit.actor == actor)) or 0)


@pytest.mark.parametrize("row", [r for r in MATRIX if r.personal], ids=lambda r: r.path)
def test_every_personal_read_is_audited(client: TestClient, tokens: dict[str, str], seeded: Seeded, agent_handles_alice: None, row: Row) -> None:
    for role in sorted(row.allowed):
        user = ROLES[role]
        before = _audit_count(seeded, user)
        r = client.get(row.path, headers=auth(tokens[user]))
        assert r.status_code == 200, r.text
        assert _audit_count(seeded, user) > before, f"{role} read {row.path} without an audit row"


def test_audit_rows_hold_pseudonyms_and_reasons(client: TestClient, tokens: dict[str, str], seeded: Seeded, agent_handles_alice: None) -> None:
    client.get(f"/api/v1/subscribers/{ALICE}", headers=auth(tokens["agent1"]))
    found = client.get("/api/v1/audit", params={"actor": "agent1", "msisdn": ALICE, "action": "subscriber.read"}, headers=auth(tokens["admin1"])).json()
    assert found["items"], "the admin finds the agent's read by the customer's number"
    row = found["items"][0]
    assert row["reason"].startswith("complaint cmp")
    assert row["subject"] and ALICE not in json.dumps(found)
