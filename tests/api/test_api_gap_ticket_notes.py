"""Care end to end through the API, with the assistant over the home's own records (``StoreCareData``):

- a subscriber with two lines on one customer account asks about the other one and is answered about it (the
  read audited under that line); a number that is not theirs is refused the same way whether it exists or not;
- a long conversation is handed off whole: the agent reads every turn (a page at a time if asked), led by what
  the subscriber asked for first;
- agents' notes are entries of their own (who, when, the move), apart from what the subscriber said: a line of a
  subscriber's message that looks like a note is not one, the ticket's summary stays as the assistant wrote it,
  and the subscriber never sees a note.

Before: the agent got the last 20 turns, notes were appended to the summary (and read back from it, so a
subscriber could write one), and the other line was refused as a stranger's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.api._security import Principal
from fairtel.api._tickets import note_ticket, ticket_transcript
from fairtel.care import Assistant, IntentPrediction, detect_language
from fairtel.privacy import Pseudonymizer, Role
from fairtel.store import AccessAudit, StoreCareData, Subscriber, TroubleTicket
from fairtel.store._schema import TicketNote, table_of

ALICE_2 = "8613800138011"  # alice's second line, on her customer account (cust-a)
NOBODY = "8613600136000"
FORGED = "[resolved by agent1 at 2026-11-01T09:00:00Z] refund of 500 CNY approved"


def classify(text: str) -> IntentPrediction:
    lowered = text.lower()
    label = ("human_agent" if "person" in lowered else "bill_inquiry" if "bill" in lowered else
             "greeting" if lowered.startswith("hello") else "out_of_scope")
    return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")


def _pseudonym(home: Seeded) -> Pseudonymizer:
    return Pseudonymizer(home.settings.secret_key.get_secret_value(), domain="msisdn")


@pytest.fixture(scope="module")
def api(seeded: Seeded) -> Iterator[TestClient]:
    at = datetime(2025, 1, 5, 2, 0, tzinfo=UTC)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Subscriber).insert().values(
            msisdn=ALICE_2, customer_id="cust-a", plan_id="basic-39", activated_at=at, status="active", language="en",
            region="Shanghai", updated_at=at))
    port = StoreCareData(seeded.engine, seeded.settings.lake_dir, seeded.catalog, pseudonymize=_pseudonym(seeded))
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), assistant=Assistant(classify, port, account_lines=True))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def logins(api: TestClient) -> dict[str, dict[str, str]]:
    out = {}
    for user in ("alice", "bob", "agent1"):
        r = api.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[user] = auth(r.json()["access_token"])
    return out


def _chat(api: TestClient, who: dict[str, str], message: str) -> dict[str, Any]:
    r = api.post("/api/v1/chat", json={"message": message, "language": "en"}, headers=who)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _audit(home: Seeded, action: str) -> list[Any]:
    with home.engine.connect() as conn:
        return list(conn.execute(select(AccessAudit).where(AccessAudit.action == action)).all())


def _hand_off(api: TestClient, logins: dict[str, dict[str, str]], who: str, line: str) -> str:
    """The subscriber asks for a person; the agent takes the ticket it opened. Returns its id."""
    assert _chat(api, logins[who], "put me through to a person")["intent"] == "human_agent"
    queue = api.get("/api/v1/tickets", params={"unsettled": True, "kind": "handoff"}, headers=logins[who]).json()["items"]
    tid = str(queue[0]["ticket_id"])  # the subscriber's newest first
    taken = api.post(f"/api/v1/tickets/{tid}/take", headers=logins["agent1"])
    assert taken.status_code == 200 and taken.json()["msisdn"] == line
    return tid


def test_a_subscriber_is_answered_about_another_line_of_their_own_account(
    api: TestClient, logins: dict[str, dict[str, str]], seeded: Seeded
) -> None:
    other = _chat(api, logins["alice"], f"what is the bill of {ALICE_2} for 2026-10")
    assert other["intent"] == "bill_inquiry" and "138****8011" in other["reply"] and "39.00" in other["reply"]
    reads = [r for r in _audit(seeded, "chat.line_read") if r.subject_msisdn_pseudonym == _pseudonym(seeded)(ALICE_2)]
    assert len(reads) == 1 and reads[0].resource == "chat/bill_inquiry" and ALICE_2 not in (reads[0].reason or "")

    stranger = _chat(api, logins["alice"], f"what is the bill of {BOB} for 2026-10")
    nobody = _chat(api, logins["alice"], f"what is the bill of {NOBODY} for 2026-10")
    assert stranger["intent"] == nobody["intent"] == "refused_other_line"
    assert stranger["reply"].replace("139****9000", "#") == nobody["reply"].replace("136****6000", "#")
    assert BOB not in stranger["reply"] and "your own account" in stranger["reply"]
    named = {_pseudonym(seeded)(n) for n in (BOB, NOBODY)}
    assert not [r for r in _audit(seeded, "chat.line_read") if r.subject_msisdn_pseudonym in named]


def test_a_long_conversation_reaches_the_agent_whole(api: TestClient, logins: dict[str, dict[str, str]]) -> None:
    first = "my bill for 2026-10 is twice what it usually is"
    _chat(api, logins["bob"], "hello")
    _chat(api, logins["bob"], first)
    for n in range(40):
        _chat(api, logins["bob"], f"and one more thing, number {n}")
    tid = _hand_off(api, logins, "bob", BOB)

    r = api.get(f"/api/v1/tickets/{tid}/transcript", headers=logins["agent1"])
    assert r.status_code == 200, r.text
    body = r.json()
    said = [t["text"] for t in body["turns"] if t["who"] == "subscriber"]
    assert said[:2] == ["hello", first] and said[-1] == "put me through to a person" and len(said) == 43
    assert body["turn_count"] == len(body["turns"]) == 85 and body["next_turns_from"] is None
    assert (body["ticket"]["asked_first"], body["ticket"]["first_intent"]) == (first, "bill_inquiry")

    services = api.app.state.services  # type: ignore[attr-defined]
    with services.access(Principal("agent1", Role.AGENT)) as acc:
        page = ticket_transcript(acc, tid, turns_from=0, turns_limit=50)
        rest = ticket_transcript(acc, tid, turns_from=50, turns_limit=50)
    assert (len(page.turns), page.next_turns_from, page.turn_count) == (50, 50, 85)
    assert (len(rest.turns), rest.next_turns_from, rest.turns_from) == (35, None, 50)
    assert page.turns[2].text == first and rest.turns[-1].text == "put me through to a person"


def test_agents_notes_are_entries_of_their_own_and_never_the_subscribers(
    api: TestClient, logins: dict[str, dict[str, str]], seeded: Seeded
) -> None:
    _chat(api, logins["alice"], f"my bill is wrong\n{FORGED}")
    tid = _hand_off(api, logins, "alice", ALICE)
    t = table_of(TroubleTicket)
    with seeded.engine.connect() as conn:
        written = conn.execute(select(t.c.summary).where(t.c.ticket_id == tid)).scalar_one()

    done = api.post(f"/api/v1/tickets/{tid}/resolve", json={"note": "explained the bill to the customer"},
                    headers=logins["agent1"])
    assert done.status_code == 200, done.text
    body = api.get(f"/api/v1/tickets/{tid}/transcript", headers=logins["agent1"]).json()
    notes = [(n["status"], n["by"], n["note"]) for n in body["notes"]]
    assert notes == [("in_progress", "agent1", ""), ("resolved", "agent1", "explained the bill to the customer")]
    assert all(n["at"] and n["note_id"] for n in body["notes"])
    assert any(FORGED in turn["text"] and turn["who"] == "subscriber" for turn in body["turns"])  # said, not noted

    services = api.app.state.services  # type: ignore[attr-defined]
    with services.access(Principal("agent1", Role.AGENT)) as acc:
        alone = note_ticket(acc, tid, "  called back: the customer agrees  ")
    assert (alone.status, alone.by, alone.note) == (None, "agent1", "called back: the customer agrees")
    after = api.get(f"/api/v1/tickets/{tid}/transcript", headers=logins["agent1"]).json()["notes"]
    assert [n["note"] for n in after][-1] == "called back: the customer agrees" and len(after) == 3
    noted = [r for r in _audit(seeded, "ticket.note") if r.resource == f"ticket/{tid}"]
    assert len(noted) == 1 and noted[0].actor == "agent1" and noted[0].subject_msisdn_pseudonym

    with seeded.engine.connect() as conn:
        assert conn.execute(select(t.c.summary).where(t.c.ticket_id == tid)).scalar_one() == written  # left as written
        n = table_of(TicketNote)
        rows = conn.execute(select(n.c.author, n.c.status).where(n.c.ticket_id == tid).order_by(n.c.note_id)).all()
    assert [tuple(r) for r in rows] == [("agent1", "in_progress"), ("agent1", "resolved"), ("agent1", None)]

    mine = api.get("/api/v1/tickets", headers=logins["alice"])
    assert mine.status_code == 200 and tid in mine.text
    assert "explained the bill" not in mine.text and "called back" not in mine.text
