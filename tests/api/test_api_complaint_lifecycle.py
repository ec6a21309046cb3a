"""The complaint lifecycle through the REST API: every move goes through the store, so the history the
API leaves is recorded, not implied; a move the lifecycle forbids is a 409 ``conflict``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.store import AccessAudit, Complaint, ComplaintEvent
from fairtel.store._schema import table_of


def err(r: Any) -> str:
    return str(r.json()["error"]["code"])


def statuses(history: dict[str, Any]) -> list[str]:
    return [e["status"] for e in history["events"] if e["kind"] == "status"]


def test_a_complaint_from_filing_to_close_is_recorded(
    client: TestClient, tokens: dict[str, str], seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, agent = auth(tokens["alice"]), auth(tokens["agent1"])
    r = client.post("/api/v1/complaints", json={"category": "unexplained_charge", "text": "a horoscope charge I never ordered",
                                                 "finding_id": "fnd-1"}, headers=alice)
    assert r.status_code == 201, r.text
    filed = r.json()
    cid = filed["complaint_id"]
    assert filed["lifecycle"] == "opened" and filed["status"] == "open" and filed["escalation_level"] == 0
    assert filed["finding_id"] == "fnd-1" and filed["overdue"] is False
    opened_at = datetime.fromisoformat(filed["opened_at"])
    assert datetime.fromisoformat(filed["due_at"]) - opened_at == timedelta(hours=48)  # the charge complaints' deadline

    taken = client.post(f"/api/v1/complaints/{cid}/take", headers=agent)
    assert taken.status_code == 200, taken.text
    listed = client.get("/api/v1/complaints", params={"lifecycle": "acknowledged"}, headers=agent).json()["items"]
    assert cid in [c["complaint_id"] for c in listed] and {c["lifecycle"] for c in listed} == {"acknowledged"}
    assert all(c["status"] == "in_progress" for c in listed)

    # the consent gate refused the horoscope charge: it was never billed, so the finding closes with no money moving
    checked = client.post("/api/v1/findings/fnd-1/refund", json={"reason": "never ordered"}, headers=agent)
    assert checked.status_code == 200, checked.text
    assert checked.json()["outcome"] == "not_billed" and checked.json()["adjustment"] is None
    r = client.post(f"/api/v1/complaints/{cid}/resolve", json={"note": "the horoscope charge was never billed"}, headers=agent)
    assert r.status_code == 200, r.text
    assert r.json()["lifecycle"] == "resolved" and r.json()["adjustment_id"] is None and r.json()["closed_at"] is not None

    # not satisfied: the subscriber reopens her own resolved complaint; the agent closes it after a call
    r = client.post(f"/api/v1/complaints/{cid}/reopen", json={"note": "still charged"}, headers=alice)
    assert r.status_code == 200, r.text
    assert r.json()["lifecycle"] == "reopened" and r.json()["status"] == "open" and r.json()["closed_at"] is None
    r = client.post(f"/api/v1/complaints/{cid}/close", json={"note": "explained on the phone"}, headers=agent)
    assert r.status_code == 200 and r.json()["lifecycle"] == "closed" and r.json()["status"] == "closed"

    history = client.get(f"/api/v1/complaints/{cid}/history", headers=alice)
    assert history.status_code == 200, history.text
    events = history.json()["events"]
    assert statuses(history.json()) == ["opened", "acknowledged", "resolved", "reopened", "closed"]
    assert all(e["recorded"] for e in events) and [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["actor"] for e in events[1:]] == ["agent1", "agent1", "alice", "agent1"]
    assert events[2]["note"] == "the horoscope charge was never billed" and events[3]["note"] == "still charged"
    with seeded.engine.connect() as conn:
        stored = conn.execute(select(table_of(ComplaintEvent).c.status).where(table_of(ComplaintEvent).c.complaint_id == cid)
                              .order_by(table_of(ComplaintEvent).c.seq)).scalars().all()
        actions = conn.execute(select(AccessAudit.action).where(AccessAudit.resource == f"complaint/{cid}")).scalars().all()
    assert stored == ["opened", "acknowledged", "resolved", "reopened", "closed"]
    assert {"complaint.create", "complaint.acknowledge", "complaint.resolve", "complaint.reopen", "complaint.close",
            "complaint.history"} <= set(actions)


def test_a_wrong_move_is_a_conflict(client: TestClient, tokens: dict[str, str]) -> None:
    alice, bob, agent = auth(tokens["alice"]), auth(tokens["bob"]), auth(tokens["agent1"])
    cid = client.post("/api/v1/complaints", json={"category": "price", "text": "too dear"}, headers=alice).json()["complaint_id"]
    # the subscriber cannot reopen what is not resolved, nor see or move another line's complaint
    r = client.post(f"/api/v1/complaints/{cid}/reopen", headers=alice)
    assert r.status_code == 409 and err(r) == "conflict"
    assert client.post(f"/api/v1/complaints/{cid}/reopen", headers=bob).status_code == 404
    assert client.get(f"/api/v1/complaints/{cid}/history", headers=bob).status_code == 404
    assert client.post(f"/api/v1/complaints/{cid}/close", headers=alice).status_code == 403
    assert client.post(f"/api/v1/complaints/{cid}/take", headers=agent).status_code == 200
    assert client.post(f"/api/v1/complaints/{cid}/close", headers=agent).status_code == 200
    r = client.post(f"/api/v1/complaints/{cid}/close", headers=agent)
    assert r.status_code == 409 and err(r) == "conflict"
    assert r.json()["error"]["details"] == {"from": "closed", "to": "closed"}
    r = client.post(f"/api/v1/complaints/{cid}/resolve", json={"note": "late"}, headers=agent)
    assert r.status_code == 409 and r.json()["error"]["details"] == {"from": "closed", "to": "resolved"}
    assert err(client.post(f"/api/v1/complaints/{cid}/take", headers=agent)) == "conflict"  # reopen it first
    # a closed complaint is reopened by the operator, not by the subscriber
    assert err(client.post(f"/api/v1/complaints/{cid}/reopen", headers=alice)) == "conflict"
    r = client.post(f"/api/v1/complaints/{cid}/reopen", json={"note": "called back"}, headers=agent)
    assert r.status_code == 200 and r.json()["lifecycle"] == "reopened"
    # taking a reopened complaint acknowledges it again
    assert client.post(f"/api/v1/complaints/{cid}/take", headers=agent).status_code == 200
    history = client.get(f"/api/v1/complaints/{cid}/history", headers=agent).json()
    assert statuses(history) == ["opened", "acknowledged", "closed", "reopened", "acknowledged"]
    assert client.get("/api/v1/complaints", params={"lifecycle": "sideways"}, headers=agent).status_code == 422


def test_a_refund_must_exist_and_be_about_the_same_line(client: TestClient, tokens: dict[str, str]) -> None:
    alice, agent = auth(tokens["alice"]), auth(tokens["agent1"])
    cid = client.post("/api/v1/complaints", json={"category": "billing_error", "text": "double charge"}, headers=alice).json()["complaint_id"]
    assert client.post(f"/api/v1/complaints/{cid}/take", headers=agent).status_code == 200
    r = client.post(f"/api/v1/complaints/{cid}/resolve", json={"refund": "adj-none"}, headers=agent)
    assert r.status_code == 404 and err(r) == "not_found"
    assert client.post(f"/api/v1/complaints/{cid}/history", headers=agent).status_code == 405
    assert statuses(client.get(f"/api/v1/complaints/{cid}/history", headers=agent).json()) == ["opened", "acknowledged"]  # nothing half-done


def test_a_complaint_stored_before_the_lifecycle_gets_its_events_written(client: TestClient, tokens: dict[str, str]) -> None:
    agent = auth(tokens["agent1"])
    listed = {c["complaint_id"]: c for c in client.get("/api/v1/complaints", headers=agent).json()["items"]}
    old = listed["cmp-1"]  # seeded 40 days before the test data's clock, without a deadline or events
    assert old["lifecycle"] == "opened" and old["overdue"] is True
    assert datetime.fromisoformat(old["due_at"]) - datetime.fromisoformat(old["opened_at"]) == timedelta(hours=48)
    assert client.post("/api/v1/complaints/cmp-1/take", headers=agent).status_code == 200
    history = client.get("/api/v1/complaints/cmp-1/history", headers=agent).json()
    assert statuses(history) == ["opened", "acknowledged"]
    assert all(e["recorded"] for e in history["events"]) and history["events"][1]["actor"] == "agent1"
    assert history["complaint"]["overdue"] is True and history["complaint"]["text"] == "I never ordered horoscope messages"


def test_agents_move_only_while_handling_and_admins_supervise_through_pseudonyms(client: TestClient, tokens: dict[str, str]) -> None:
    agent, admin, bob = auth(tokens["agent1"]), auth(tokens["admin1"]), auth(tokens["bob"])
    cid = client.post("/api/v1/complaints", json={"category": "network_quality", "text": f"no signal, call me on {BOB}"},
                      headers=bob).json()["complaint_id"]
    r = client.post(f"/api/v1/complaints/{cid}/resolve", headers=agent)
    assert r.status_code == 403 and err(r) == "assignment_required"
    assert err(client.get(f"/api/v1/complaints/{cid}/history", headers=agent)) == "assignment_required"
    r = client.post(f"/api/v1/complaints/{cid}/resolve", json={"note": f"cell repaired; told {BOB}"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["lifecycle"] == "resolved" and r.json()["text"] is None and r.json()["msisdn"] != BOB
    history = client.get(f"/api/v1/complaints/{cid}/history", headers=admin)
    assert history.status_code == 200 and BOB not in history.text and ALICE not in history.text
    assert history.json()["events"][-1]["actor"] == "admin1"
    # the subscriber sees their own words and the note with their own number
    mine = client.get(f"/api/v1/complaints/{cid}/history", headers=bob).json()
    assert mine["complaint"]["text"].endswith(BOB) and mine["events"][-1]["note"] == f"cell repaired; told {BOB}"
    assert client.get(f"/api/v1/complaints/{cid}/history", headers=auth(tokens["analyst1"])).status_code == 403
    assert client.post(f"/api/v1/complaints/{cid}/take", headers=admin).status_code == 403  # only agents take cases


def test_a_status_set_outside_the_lifecycle_is_read_and_filtered_as_the_store_reads_it(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    at = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    rows = {"cmp-old-closed": ("closed", "opened"), "cmp-old-taken": ("in_progress", "opened"), "cmp-old-again": ("open", "resolved")}
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Complaint).insert(), [
            {"complaint_id": cid, "msisdn": ALICE, "category": "price", "opened_at": at, "closed_at": at if status == "closed" else None,
             "status": status, "channel": "store", "text": "old", "lifecycle": lifecycle}
            for cid, (status, lifecycle) in rows.items()
        ])
    admin = auth(tokens["admin1"])

    def ids(lifecycle: str) -> set[str]:
        items = client.get("/api/v1/complaints", params={"lifecycle": lifecycle, "limit": 500}, headers=admin).json()["items"]
        assert {c["lifecycle"] for c in items} <= {lifecycle}
        return {c["complaint_id"] for c in items} & set(rows)

    assert (ids("closed"), ids("acknowledged"), ids("reopened")) == ({"cmp-old-closed"}, {"cmp-old-taken"}, {"cmp-old-again"})
    assert ids("opened") == ids("resolved") == set()
    history = client.get("/api/v1/complaints/cmp-old-closed/history", headers=admin).json()
    assert [(e["status"], e["actor"], e["recorded"]) for e in history["events"]] == [
        ("opened", "unrecorded", False), ("closed", "unrecorded", False)]
    assert history["complaint"]["overdue"] is False
