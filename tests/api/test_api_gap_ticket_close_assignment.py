"""Closing a ticket ends the assignments resting on it, as closing a complaint does: the agent who took a fault
ticket kept the customer open, through a settled ticket, until the assignment expired. A move sent again to the
closed ticket is the conflict it is (409), not a refusal for want of an assignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairtel_seed import BOB, CAROL, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.care import TicketRequest
from fairtel.store import AccessAudit, AgentAssignment, StoreCareData
from fairtel.store._schema import table_of


def _fault(seeded: Seeded, msisdn: str) -> str:
    port = StoreCareData(seeded.engine, seeded.settings.lake_dir, seeded.catalog)
    return port.open_ticket(msisdn, TicketRequest("no_signal", "home", "yesterday", "no_signal at home since yesterday"))


def _live(seeded: Seeded, ticket_id: str) -> list[str]:
    t = table_of(AgentAssignment)
    with seeded.engine.connect() as conn:
        return list(conn.scalars(select(t.c.agent).where(t.c.reference_kind == "ticket", t.c.reference_id == ticket_id,
                                                         t.c.released_at.is_(None))))


def test_closing_a_fault_ticket_ends_the_assignment_resting_on_it(client: TestClient, tokens: dict[str, str],
                                                                  seeded: Seeded) -> None:
    agent = auth(tokens["agent1"])
    tid = _fault(seeded, BOB)
    assert client.post(f"/api/v1/tickets/{tid}/take", headers=agent).status_code == 200
    assert client.get(f"/api/v1/subscribers/{BOB}", headers=agent).status_code == 200
    assert tid in [a["reference_id"] for a in client.get("/api/v1/assignments", headers=agent).json()]

    closed = client.post(f"/api/v1/tickets/{tid}/close", json={"note": "cell site restarted"}, headers=agent)
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    assert BOB not in str(closed.json()["msisdn"])  # as the closer sees the customer now: masked
    assert tid not in [a["reference_id"] for a in client.get("/api/v1/assignments", headers=agent).json()]
    assert _live(seeded, tid) == []
    assert client.get(f"/api/v1/subscribers/{BOB}", headers=agent).status_code == 403  # closed to the agent
    a = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        released = conn.scalars(select(a.c.resource).where(a.c.action == "assignment.release",
                                                           a.c.resource == f"ticket/{tid}")).all()
    assert released == [f"ticket/{tid}"]

    for move in ("close", "resolve"):  # sent again: the conflict, not a refusal
        again = client.post(f"/api/v1/tickets/{tid}/{move}", headers=agent)
        to = "closed" if move == "close" else "resolved"
        assert again.status_code == 409 and again.json()["error"]["details"] == {"from": "closed", "to": to}, again.text


def test_another_agents_assignment_on_the_ticket_ends_too(client: TestClient, tokens: dict[str, str],
                                                          seeded: Seeded) -> None:
    agent = auth(tokens["agent1"])
    tid = _fault(seeded, CAROL)
    assert client.post(f"/api/v1/tickets/{tid}/take", headers=agent).status_code == 200
    now = datetime.now(UTC)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(AgentAssignment).insert().values(
            assignment_id="asg-other-agent", agent="agent9", msisdn=CAROL, reference_kind="ticket", reference_id=tid,
            started_at=now - timedelta(minutes=5), expires_at=now + timedelta(hours=1), released_at=None))
    assert sorted(_live(seeded, tid)) == ["agent1", "agent9"]
    resolved = client.post(f"/api/v1/tickets/{tid}/resolve", json={"note": "fixed"}, headers=agent)
    assert resolved.status_code == 200 and sorted(_live(seeded, tid)) == ["agent1", "agent9"]  # resolving ends none
    closed = client.post(f"/api/v1/tickets/{tid}/close", headers=agent)
    assert closed.status_code == 200, closed.text
    assert _live(seeded, tid) == []
