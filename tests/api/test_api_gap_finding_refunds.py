"""Refunds through the API decided as ``fairtel assure --refund`` decides them: a charge the consent gate refused
was never on a bill, so its finding closes ``not_billed`` with no money moving (the API posted a refund of it,
which the next bill credited); a billed charge is refunded once, naming its bill, whether the CLI or the API got
there first; a charge not billed yet is refused until it is."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, PERIOD, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import Access, Principal, Pseudonyms
from fairtel.api._cases import refund_finding
from fairtel.assurance import Finding, FindingKind
from fairtel.billing import bill_id_for
from fairtel.cli._assure_refunds import post_refunds
from fairtel.core.errors import NotAvailableError
from fairtel.privacy import Role
from fairtel.store import AccessAudit, Adjustment
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

KEY = "test-secret-key-0123456789abcdef"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOT_BILLED = "not_billed: refused by the consent gate before billing"


def err(r: Any) -> str:
    return str(r.json()["error"]["code"])


def refunds(seeded: Seeded, msisdn: str) -> list[tuple[Any, ...]]:
    t = table_of(Adjustment)
    with seeded.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(t.c.adjustment_id, t.c.finding_id, t.c.amount_minor, t.c.bill_id, t.c.created_by)
            .where(t.c.msisdn == msisdn, t.c.kind == "refund").order_by(t.c.created_at, t.c.adjustment_id))]


def status(seeded: Seeded, finding_id: str) -> tuple[str, str | None]:
    t = table_of(FindingRow)
    with seeded.engine.connect() as conn:
        row = conn.execute(select(t.c.status, t.c.resolution).where(t.c.finding_id == finding_id)).one()
    return row.status, row.resolution


def music_finding(finding_id: str, kind: FindingKind) -> Finding:
    """A finding about Alice's music-pack charge (record r-3), which the October bill carried."""
    return Finding(finding_id=finding_id, kind=kind, msisdn=ALICE, record_ids=("r-3",), subscription_id="sub-a1", amount=Decimal("10.00"),
                   currency="CNY", detected_at=NOW, evidence={"source": "canonical", "verdict": "after_cancellation", "offer_id": "vas-music-10"})


def queue(seeded: Seeded, *findings: Finding) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert(), [
            {"finding_id": f.finding_id, "kind": f.kind.value, "msisdn": f.msisdn, "subscription_id": f.subscription_id,
             "record_ids": list(f.record_ids), "amount_minor": f.amount_minor, "currency": f.currency, "status": "open",
             "evidence": dict(f.evidence), "detected_at": f.detected_at, "resolved_at": None, "resolved_by": None, "resolution": None}
            for f in findings
        ])


def handle(client: TestClient, tokens: dict[str, str], complaint_id: str) -> dict[str, str]:
    h = auth(tokens["agent1"])
    assert client.post(f"/api/v1/complaints/{complaint_id}/take", headers=h).status_code == 200
    return h


def test_a_charge_the_gate_refused_closes_not_billed_and_moves_no_money(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    agent = handle(client, tokens, "cmp-1")
    r = client.post("/api/v1/findings/fnd-1/refund", json={"reason": "customer never ordered"}, headers=agent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "not_billed" and body["adjustment"] is None
    assert (body["finding"]["status"], body["finding"]["resolution"]) == ("resolved", NOT_BILLED)  # as the CLI closes it
    assert refunds(seeded, ALICE) == []
    again = client.post("/api/v1/findings/fnd-1/refund", headers=agent)
    assert again.status_code == 409 and err(again) == "finding_resolution_invalid"
    with seeded.engine.connect() as conn:
        actions = conn.scalars(select(AccessAudit.action).where(AccessAudit.resource == "finding/fnd-1")).all()
    assert "finding.resolve" in actions and "finding.refund" not in actions


def test_a_billed_charge_is_refunded_once_naming_its_bill(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    agent = handle(client, tokens, "cmp-2")
    r = client.post("/api/v1/findings/fnd-2/refund", json={"reason": "charged twice"}, headers=agent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "refunded" and body["adjustment"]["amount"] == "5.00" and body["finding"]["status"] == "resolved"
    adjustment = body["adjustment"]["adjustment_id"]
    assert refunds(seeded, BOB) == [(adjustment, "fnd-2", 500, bill_id_for(BOB, PERIOD), "agent1")]
    again = client.post("/api/v1/findings/fnd-2/refund", headers=agent)
    assert again.status_code == 409 and err(again) == "finding_resolution_invalid"
    assert len(refunds(seeded, BOB)) == 1
    settled = client.post("/api/v1/complaints/cmp-2/resolve", json={"note": "refunded", "refund": adjustment}, headers=agent)
    assert settled.status_code == 200 and settled.json()["adjustment_id"] == adjustment


def test_a_charge_the_cli_refunded_is_not_refunded_again(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    """``assure --refund`` refunded the music charge under one finding; the API refuses that finding again, and a
    second finding about the same charge closes with the refund already posted, moving no more money."""
    first, second = music_finding("fnd-cli-a", FindingKind.CHARGE_AFTER_CANCELLATION), music_finding("fnd-cli-b", FindingKind.UNCONSENTED_CHARGE)
    queue(seeded, first, second)
    outcome = post_refunds(seeded.app, [first], outside_billing=False, now=NOW)
    assert [a.finding_id for a in outcome.posted] == ["fnd-cli-a"]
    posted = refunds(seeded, ALICE)
    assert [(p[1], p[2], p[3]) for p in posted] == [("fnd-cli-a", 1000, bill_id_for(ALICE, PERIOD))]

    agent = handle(client, tokens, "cmp-1")
    r = client.post("/api/v1/findings/fnd-cli-a/refund", headers=agent)
    assert r.status_code == 409 and err(r) == "finding_resolution_invalid"
    r = client.post("/api/v1/findings/fnd-cli-b/refund", headers=agent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "refunded_before" and body["adjustment"]["adjustment_id"] == posted[0][0]
    assert body["finding"]["status"] == "resolved"
    assert refunds(seeded, ALICE) == posted  # one refund of the charge, whoever closed which finding


def test_a_refund_the_ledger_holds_for_an_open_finding_is_not_posted_again(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    f = music_finding("fnd-ledger", FindingKind.UNCONSENTED_CHARGE)
    queue(seeded, f)
    t = table_of(Adjustment)
    with seeded.engine.begin() as conn:
        conn.execute(t.insert().values(adjustment_id="adj-ledger", kind="refund", msisdn=ALICE, bill_id=None, finding_id="fnd-ledger",
                                       amount_minor=1000, currency="CNY", reason="refunded by the operator", created_at=NOW, created_by="ops"))
    before = refunds(seeded, ALICE)
    r = client.post("/api/v1/findings/fnd-ledger/refund", headers=handle(client, tokens, "cmp-1"))
    assert r.status_code == 409 and err(r) == "finding_resolution_invalid" and r.json()["error"]["details"]["adjustment_id"] == "adj-ledger"
    assert refunds(seeded, ALICE) == before and status(seeded, "fnd-ledger")[0] == "open"


def test_a_charge_no_bill_carried_yet_is_not_refunded(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    """A record fairtel has not rated (nor billed) may still be billed: like the CLI, the API waits for the bill."""
    late = Finding(finding_id="fnd-late", kind=FindingKind.CHARGE_AFTER_CANCELLATION, msisdn=ALICE, record_ids=("r-late",), subscription_id="sub-a1",
                   amount=Decimal("10.00"), currency="CNY", detected_at=NOW, evidence={"source": "canonical", "verdict": "after_cancellation"})
    queue(seeded, late)
    before = refunds(seeded, ALICE)
    r = client.post("/api/v1/findings/fnd-late/refund", headers=handle(client, tokens, "cmp-1"))
    assert r.status_code == 409 and err(r) == "finding_resolution_invalid" and r.json()["error"]["details"] == {"billed": False}
    assert refunds(seeded, ALICE) == before and status(seeded, "fnd-late") == ("open", None)


def test_without_the_lake_a_charge_is_not_refunded(seeded: Seeded) -> None:
    """Whether a charge was billed is read from the lake: a request not given it refunds nothing."""
    late = music_finding("fnd-nolake", FindingKind.UNCONSENTED_CHARGE)
    queue(seeded, late)
    acc = Access(principal=Principal("agent1", Role.AGENT), pseudonyms=Pseudonyms(KEY), begin=seeded.engine.begin)
    acc.assign(ALICE, kind="complaint", reference_id="cmp-1")
    before = refunds(seeded, ALICE)
    with pytest.raises(NotAvailableError) as raised:
        refund_finding(acc, "fnd-nolake")
    acc.end(raised.value)
    assert refunds(seeded, ALICE) == before and status(seeded, "fnd-nolake") == ("open", None)
