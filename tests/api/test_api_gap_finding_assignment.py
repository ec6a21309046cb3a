"""An agent resolves a finding only while handling its customer, as they move that customer's complaints: a
refund is posted to the customer's account and a dismissal closes their case. Reading the queue (numbers
masked) needs no assignment."""

from __future__ import annotations

from fairtel_seed import BOB, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, Adjustment
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of


def test_an_agent_resolves_a_finding_only_while_handling_its_customer(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    agent = auth(tokens["agent1"])
    assert client.get("/api/v1/findings/fnd-2", headers=agent).status_code == 200  # the queue is read without one
    for action, body in (("refund", {"reason": "charged twice"}), ("dismiss", {"reason": "a retry, not a charge"})):
        r = client.post(f"/api/v1/findings/fnd-2/{action}", json=body, headers={**agent, "X-Request-Id": f"no-assignment-{action}"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "assignment_required", r.text
        with seeded.engine.connect() as conn:
            denied = conn.execute(select(AccessAudit.action, AccessAudit.subject_msisdn_pseudonym)
                                  .where(AccessAudit.request_id.like(f"%~no-assignment-{action}"))).all()
        assert [tuple(d) for d in denied] == [("access.denied", Pseudonymizer(seeded.settings.secret_key.get_secret_value())(BOB))]
    with seeded.engine.connect() as conn:
        assert conn.scalar(select(table_of(FindingRow).c.status).where(table_of(FindingRow).c.finding_id == "fnd-2")) == "open"
        assert conn.execute(select(Adjustment.adjustment_id).where(Adjustment.finding_id == "fnd-2")).all() == []

    taken = client.post("/api/v1/complaints/cmp-2/take", headers=agent)
    assert taken.status_code == 200, taken.text
    r = client.post("/api/v1/findings/fnd-2/dismiss", json={"reason": "a retry, not a charge"}, headers=agent)
    assert r.status_code == 200 and r.json()["outcome"] == "dismissed" and r.json()["finding"]["status"] == "dismissed", r.text
