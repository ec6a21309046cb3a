"""The agents' side of the tickets the assistant opens: a hand-off promises "they will see our conversation", and
a fault report an engineer's look, yet no route read ``trouble_tickets``. Now an agent lists the queue (masked
until handled), takes a ticket (an assignment of kind ``ticket`` that opens the customer), reads the conversation
(audited) and resolves or closes it with a note; analysts see pseudonyms and no words."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, CAROL, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.care import Assistant, IntentPrediction, TicketRequest, detect_language
from fairtel.privacy import mask_msisdn
from fairtel.store import AccessAudit, StoreCareData


def err(r: Any) -> str:
    return str(r.json()["error"]["code"])


def _classify(text: str) -> IntentPrediction:
    label = "human_agent" if "person" in text else "greeting"
    return IntentPrediction(label, 0.99, detect_language(text), False)


@pytest.fixture(scope="module")
def opened(seeded: Seeded) -> dict[str, str]:
    """A hand-off from alice's chat, and a fault bob reported, written by the assistant's data port."""
    port = StoreCareData(seeded.engine, seeded.settings.lake_dir, seeded.catalog)
    assistant = Assistant(_classify, port)
    conv = assistant.start(ALICE, language="en")
    assistant.say(conv, "hello")
    assistant.say(conv, f"why was I charged for a call to {CAROL}")
    handed = assistant.say(conv, "put me through to a person")
    assert handed.action == "handed_off" and handed.reference
    fault = port.open_ticket(BOB, TicketRequest("no_signal", "home", "yesterday", "no_signal at home since yesterday (reported in chat chat_01bob)"))
    return {"handoff": handed.reference, "fault": fault, "chat": conv.conversation_id}


def _audit(seeded: Seeded, action: str) -> list[Any]:
    with seeded.engine.connect() as conn:
        return list(conn.execute(select(AccessAudit).where(AccessAudit.action == action)).all())


def test_an_agent_takes_a_hand_off_reads_the_conversation_and_resolves_it(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, opened: dict[str, str]
) -> None:
    agent = auth(tokens["agent1"])
    tid = opened["handoff"]
    queue = client.get("/api/v1/tickets", params={"unsettled": True}, headers=agent)
    assert queue.status_code == 200, queue.text
    rows = {t["ticket_id"]: t for t in queue.json()["items"]}
    assert rows[opened["fault"]]["priority"] == 1 and next(iter(rows)) == opened["fault"]  # no signal: urgent, first
    mine = rows[tid]
    assert (mine["kind"], mine["status"], mine["conversation_id"]) == ("handoff", "open", opened["chat"])
    assert mine["msisdn"] == mask_msisdn(ALICE) and ALICE not in queue.text and CAROL not in queue.text  # masked until handled

    r = client.get(f"/api/v1/tickets/{tid}/transcript", headers=agent)
    assert r.status_code == 403 and err(r) == "assignment_required"

    taken = client.post(f"/api/v1/tickets/{tid}/take", headers=agent)
    assert taken.status_code == 200, taken.text
    a = taken.json()
    assert (a["reference_kind"], a["reference_id"], a["msisdn"]) == ("ticket", tid, ALICE)
    assert a["ticket"]["status"] == "in_progress"
    opened_customer = client.get(f"/api/v1/subscribers/{ALICE}", headers=agent)
    assert opened_customer.status_code == 200  # the ticket opened the customer, as taking a complaint does
    reads = [row for row in _audit(seeded, "subscriber.read") if row.reason == f"ticket {tid}"]
    assert reads, "the read is audited with the ticket it rests on"

    r = client.get(f"/api/v1/tickets/{tid}/transcript", headers=agent)
    assert r.status_code == 200, r.text
    body = r.json()
    turns = [(t["who"], t["text"]) for t in body["turns"]]
    assert turns[0] == ("subscriber", "hello") and turns[1][0] == "assistant" and len(turns[1][1]) > 20
    assert [w for w, t in turns if t.startswith("why was I charged for a call to")] == ["subscriber"]  # as the chat kept it
    assert turns[-1] == ("subscriber", "put me through to a person")
    assert body["ticket"]["msisdn"] == ALICE and body["notes"][0]["status"] == "in_progress"
    seen = [row for row in _audit(seeded, "ticket.transcript") if row.resource == f"ticket/{tid}"]
    assert seen and seen[-1].actor == "agent1" and seen[-1].subject_msisdn_pseudonym and ALICE not in json.dumps(
        [row.reason for row in seen])

    done = client.post(f"/api/v1/tickets/{tid}/resolve", json={"note": "explained the bill, no charge was wrong"}, headers=agent)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "resolved" and done.json()["resolved_at"]
    notes = client.get(f"/api/v1/tickets/{tid}/transcript", headers=agent).json()["notes"]
    assert [(n["status"], n["by"], n["note"]) for n in notes] == [
        ("in_progress", "agent1", ""), ("resolved", "agent1", "explained the bill, no charge was wrong")]
    closed = client.post(f"/api/v1/tickets/{tid}/close", json={"note": "customer satisfied"}, headers=agent)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = client.post(f"/api/v1/tickets/{tid}/resolve", headers=agent)
    assert again.status_code == 409 and err(again) == "conflict"
    assert client.post(f"/api/v1/tickets/{tid}/take", headers=agent).status_code == 409


def test_a_fault_ticket_is_handled_the_same_way(client: TestClient, tokens: dict[str, str], opened: dict[str, str]) -> None:
    agent = auth(tokens["agent1"])
    tid = opened["fault"]
    assert client.post(f"/api/v1/tickets/{tid}/close", headers=agent).status_code == 403  # not handling bob yet
    assert client.post(f"/api/v1/tickets/{tid}/take", headers=agent).status_code == 200
    r = client.get(f"/api/v1/tickets/{tid}/transcript", headers=agent).json()
    assert r["ticket"]["kind"] == "fault" and r["ticket"]["reported"].startswith("no_signal at home since yesterday")
    assert r["ticket"]["conversation_id"] == "chat_01bob" and r["turns"] == []
    done = client.post(f"/api/v1/tickets/{tid}/resolve", json={"note": "cell site restarted"}, headers=agent)
    assert done.status_code == 200 and done.json()["status"] == "resolved"


def test_analysts_see_pseudonyms_and_no_words_and_read_no_transcript(
    client: TestClient, tokens: dict[str, str], opened: dict[str, str]
) -> None:
    analyst = auth(tokens["analyst1"])
    r = client.get("/api/v1/tickets", headers=analyst)
    assert r.status_code == 200
    for n in (ALICE, BOB, CAROL):
        assert n not in r.text
    assert all(re.fullmatch(r"p[0-9a-z]{20}", t["msisdn"]) and t["reported"] is None for t in r.json()["items"])
    for tid in opened.values():
        if tid.startswith("tkt"):
            t = client.get(f"/api/v1/tickets/{tid}/transcript", headers=analyst)
            assert t.status_code == 403 and err(t) == "permission_denied"


def test_a_subscriber_lists_only_their_own_tickets(client: TestClient, tokens: dict[str, str], opened: dict[str, str]) -> None:
    r = client.get("/api/v1/tickets", headers=auth(tokens["alice"]))
    assert r.status_code == 200
    assert {t["ticket_id"] for t in r.json()["items"]} == {opened["handoff"]}
    assert r.json()["items"][0]["msisdn"] == ALICE and BOB not in r.text
