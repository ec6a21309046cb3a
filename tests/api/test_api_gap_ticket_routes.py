"""The ticket routes the agents' side needed: a hand-off's transcript paged through the REST API (``turns_from``,
``turns_limit``) and a note on a ticket without moving it (``POST /tickets/{id}/notes``), with the console's note form.

Before: ``GET /tickets/{id}/transcript`` took no paging parameters (the service could page, the route did not pass it
on) and there was no route to note a ticket: a note could only come with a resolve or a close."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.store import AccessAudit, TroubleTicket
from fairtel.store._schema import TicketNote, table_of

TURNS = 7  # user/assistant turns of the seeded hand-off


@pytest.fixture(scope="module", autouse=True)
def tickets(seeded: Seeded) -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    turns = "\n".join(f"{'user' if n % 2 == 0 else 'assistant'}: turn {n}" for n in range(TURNS))
    with seeded.engine.begin() as conn:
        conn.execute(table_of(TroubleTicket).insert(), [
            {"ticket_id": "tkt-route-1", "msisdn": ALICE, "region": "Shanghai", "category": "agent_handoff", "priority": 2,
             "status": "open", "opened_at": at, "resolved_at": None,
             "summary": f"chat chat_01route\nasked first (bill_inquiry): turn 0\n{turns}"},
            {"ticket_id": "tkt-route-2", "msisdn": BOB, "region": "Beijing", "category": "no_signal", "priority": 1,
             "status": "open", "opened_at": at, "resolved_at": None, "summary": "no signal at home since yesterday (reported in chat chat_01b)"},
        ])


@pytest.fixture(scope="module")
def agent(client: TestClient, tokens: dict[str, str]) -> dict[str, str]:
    headers = auth(tokens["agent1"])
    assert client.post("/api/v1/tickets/tkt-route-1/take", headers=headers).status_code == 200
    return headers


def _transcript(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    return client.get("/api/v1/tickets/tkt-route-1/transcript", params=params, headers=headers)


def test_the_transcript_is_paged_through_the_api(client: TestClient, agent: dict[str, str]) -> None:
    whole = _transcript(client, agent).json()
    assert whole["turn_count"] == len(whole["turns"]) == TURNS and whole["next_turns_from"] is None
    first = _transcript(client, agent, turns_limit=3).json()
    assert [t["text"] for t in first["turns"]] == ["turn 0", "turn 1", "turn 2"]
    assert (first["turns_from"], first["next_turns_from"], first["turn_count"]) == (0, 3, TURNS)
    rest = _transcript(client, agent, turns_from=first["next_turns_from"], turns_limit=500).json()
    assert [t["text"] for t in rest["turns"]] == [f"turn {n}" for n in range(3, TURNS)] and rest["next_turns_from"] is None
    assert _transcript(client, agent, turns_from=TURNS + 5).json()["turns"] == []
    for bad in ({"turns_from": -1}, {"turns_limit": 0}, {"turns_limit": 501}, {"turns_from": "x"}):
        r = _transcript(client, agent, **bad)
        assert r.status_code == 422 and r.json()["error"]["code"] == "input_invalid", bad
        assert {p["field"] for p in r.json()["error"]["details"]["problems"]} <= {"turns_from", "turns_limit"}


def test_an_agent_notes_a_ticket_without_moving_it(client: TestClient, tokens: dict[str, str], agent: dict[str, str],
                                                   seeded: Seeded) -> None:
    r = client.post("/api/v1/tickets/tkt-route-1/notes", json={"note": "  called back, waiting for the bill  "}, headers=agent)
    assert r.status_code == 201, r.text
    note = r.json()
    assert (note["status"], note["by"], note["note"]) == (None, "agent1", "called back, waiting for the bill")
    assert note["note_id"] and note["at"]
    body = _transcript(client, agent).json()
    assert body["ticket"]["status"] == "in_progress"  # as taking left it
    assert body["notes"][-1]["note"] == "called back, waiting for the bill" and body["notes"][-1]["status"] is None
    with seeded.engine.connect() as conn:
        rows = conn.execute(select(AccessAudit).where(AccessAudit.action == "ticket.note",
                                                      AccessAudit.resource == "ticket/tkt-route-1")).all()
    assert len(rows) == 1 and rows[0].actor == "agent1" and ALICE not in str(tuple(rows[0]))

    # the subscriber sees the status of their ticket, never a note
    mine = client.get("/api/v1/tickets", headers=auth(tokens["alice"]))
    assert mine.status_code == 200 and "tkt-route-1" in mine.text and "called back" not in mine.text


def test_a_note_is_refused_when_empty_or_the_customer_is_not_handled(client: TestClient, tokens: dict[str, str],
                                                                     agent: dict[str, str], seeded: Seeded) -> None:
    for body in ({"note": ""}, {"note": "   "}, {"note": "x" * 2001}, {}):
        r = client.post("/api/v1/tickets/tkt-route-1/notes", json=body, headers=agent)
        assert r.status_code == 422 and r.json()["error"]["code"] == "input_invalid", body
    other = client.post("/api/v1/tickets/tkt-route-2/notes", json={"note": "not mine"}, headers=agent)
    assert other.status_code == 403 and other.json()["error"]["code"] == "assignment_required"
    assert client.post("/api/v1/tickets/tkt-none/notes", json={"note": "x"}, headers=agent).status_code == 404
    subscriber = client.post("/api/v1/tickets/tkt-route-1/notes", json={"note": "me"}, headers=auth(tokens["alice"]))
    assert subscriber.status_code == 403
    with seeded.engine.connect() as conn:
        n = table_of(TicketNote)
        assert conn.execute(select(n.c.note).where(n.c.ticket_id == "tkt-route-2")).all() == []
