"""A one-ring call a subscriber was charged for receiving while roaming (``one_ring_roaming_charge``, raised by
``fairtel fraud detect``) is refunded through the API as a call back to the scam number is: once, with its reason
in words, and a second request moves no money."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fairtel_seed import ALICE, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.assurance import Finding, FindingKind
from fairtel.store import Adjustment
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def refunds(seeded: Seeded) -> list[tuple[Any, ...]]:
    t = table_of(Adjustment)
    with seeded.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(t.c.finding_id, t.c.amount_minor, t.c.reason).where(t.c.msisdn == ALICE, t.c.kind == "refund"))]


def test_a_ring_charged_while_roaming_is_refunded_once_through_the_api(client: TestClient, tokens: dict[str, str],
                                                                         seeded: Seeded) -> None:
    f = Finding(finding_id="fnd-ring", kind=FindingKind.ONE_RING_ROAMING_CHARGE, msisdn=ALICE, record_ids=("r-1",),
                subscription_id=None, amount=Decimal("1.99"), currency="CNY", detected_at=NOW,
                evidence={"source": "canonical", "case_id": "fcs_1", "caller": "2393301234", "roaming_zone": "roam-2",
                          "period": "2026-10"})
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert(), [{
            "finding_id": f.finding_id, "kind": f.kind.value, "msisdn": f.msisdn, "subscription_id": None,
            "record_ids": list(f.record_ids), "amount_minor": f.amount_minor, "currency": f.currency, "status": "open",
            "evidence": dict(f.evidence), "detected_at": f.detected_at, "resolved_at": None, "resolved_by": None,
            "resolution": None}])
    agent = auth(tokens["agent1"])
    assert client.post("/api/v1/complaints/cmp-1/take", headers=agent).status_code == 200
    r = client.post("/api/v1/findings/fnd-ring/refund", headers=agent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "refunded" and body["finding"]["status"] == "resolved"
    assert "one-ring scam call received while roaming" in body["finding"]["resolution"]
    assert refunds(seeded) == [("fnd-ring", 199, "one-ring scam call received while roaming")]
    again = client.post("/api/v1/findings/fnd-ring/refund", headers=agent)
    assert again.status_code == 409
    assert refunds(seeded) == [("fnd-ring", 199, "one-ring scam call received while roaming")]
