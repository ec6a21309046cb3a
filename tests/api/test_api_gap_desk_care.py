"""The complaint desk, where a care agent's work met a dead end:

- a number written in a complaint's note without the country code (``13800138000``) was masked for the agent
  handling that very customer and pseudonymised to another pseudonym than the subscriber's for an admin;
- a complaint the regulator transferred (an appeal, 申诉: channel ``regulator``, which ``fairtel kpi complaints``
  counts appeals by) or taken on the hotline could not be filed through the API (422 on the channel);
- closing a complaint left the agent's assignment to the customer running (their data open for two hours more);
  the close now ends it, a move sent again is still the conflict it is, and reopening takes the customer again."""

from __future__ import annotations

from typing import Any

from fairtel_seed import ALICE, BOB, CAROL, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.kpi._complaint_report import APPEAL_CHANNEL
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, Complaint
from fairtel.store._schema import table_of


def _file(client: TestClient, token: str, msisdn: str, **extra: Any) -> Any:
    body = {"msisdn": msisdn, "category": "billing", "text": "charged twice", "channel": "phone", **extra}
    return client.post("/api/v1/complaints", json=body, headers=auth(token))


def test_a_number_in_a_note_written_without_86_reads_as_the_customers(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    agent = tokens["agent1"]
    cid = _file(client, agent, ALICE).json()["complaint_id"]
    local = ALICE[2:]  # 13800138000, as dialled at home
    r = client.post(f"/api/v1/complaints/{cid}/resolve", json={"note": f"已退款3元，客户 {local} 认可"}, headers=auth(agent))
    assert r.status_code == 200, r.text
    notes = [e["note"] for e in client.get(f"/api/v1/complaints/{cid}/history", headers=auth(agent)).json()["events"] if e["note"]]
    assert any(f"客户 {ALICE} 认可" in n for n in notes), notes  # the agent handling alice reads her number plainly
    assert not any("****" in n for n in notes), notes
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")(ALICE)
    admin = [e["note"] for e in client.get(f"/api/v1/complaints/{cid}/history", headers=auth(tokens["admin1"])).json()["events"]
             if e["note"]]
    assert any(f"客户 {pseudonym} 认可" in n for n in admin), (admin, pseudonym)
    assert not any(local in n for n in admin)


def test_an_appeal_and_a_hotline_complaint_are_filed(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    for channel in (APPEAL_CHANNEL, "hotline"):
        r = _file(client, tokens["agent1"], BOB, channel=channel, text=f"transferred: {channel}")
        assert r.status_code == 201, r.text
        assert r.json()["channel"] == channel
    assert _file(client, tokens["agent1"], BOB, channel="pigeon").status_code == 422
    t = table_of(Complaint)
    with seeded.engine.connect() as conn:
        assert conn.scalar(select(t.c.channel).where(t.c.msisdn == BOB, t.c.channel == "regulator")) == "regulator"


def test_closing_a_complaint_ends_the_assignment_resting_on_it(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    agent = auth(tokens["agent1"])
    cid = _file(client, tokens["agent1"], CAROL).json()["complaint_id"]
    assert client.get(f"/api/v1/subscribers/{CAROL}", headers=agent).status_code == 200
    assert [a["reference_id"] for a in client.get("/api/v1/assignments", headers=agent).json()].count(cid) == 1
    closed = client.post(f"/api/v1/complaints/{cid}/close", json={"note": "explained"}, headers=agent)
    assert closed.status_code == 200 and closed.json()["lifecycle"] == "closed", closed.text
    assert cid not in [a["reference_id"] for a in client.get("/api/v1/assignments", headers=agent).json()]
    assert client.get(f"/api/v1/subscribers/{CAROL}", headers=agent).status_code == 403  # the customer is closed to the agent
    a = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        released = conn.scalar(select(a.c.resource).where(a.c.action == "assignment.release", a.c.resource == f"complaint/{cid}"))
    assert released == f"complaint/{cid}"
    # a move sent again is the conflict it is, not a refusal
    again = client.post(f"/api/v1/complaints/{cid}/close", headers=agent)
    assert again.status_code == 409 and again.json()["error"]["details"] == {"from": "closed", "to": "closed"}
    late = client.post(f"/api/v1/complaints/{cid}/resolve", json={"note": "late"}, headers=agent)
    assert late.status_code == 409 and late.json()["error"]["details"] == {"from": "closed", "to": "resolved"}
    # the customer calls back: reopening the complaint takes them again
    r = client.post(f"/api/v1/complaints/{cid}/reopen", json={"note": "called back"}, headers=agent)
    assert r.status_code == 200 and r.json()["lifecycle"] == "reopened", r.text
    assert client.get(f"/api/v1/subscribers/{CAROL}", headers=agent).status_code == 200
