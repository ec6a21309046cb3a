"""A refund through the API gives back what the subscriber paid for the charge: the charge and the tax its bill
charged on it (VAS taxed at 6 % here), and says how much of it is tax; a second finding about the same charge
moves no more money."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fairtel_seed import ALICE, BOB, PERIOD, Seeded, auth, seed
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.assurance import Finding, FindingKind
from fairtel.billing import bill_id_for
from fairtel.store import Adjustment, get_bill
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The seeded operator, its bills issued with VAS taxed at 6 %."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAIRTEL_TAX_RATES", '{"vas": "0.06"}')
        s = seed(home, database_url=f"sqlite:///{home / 'fairtel.db'}")
    yield s
    s.engine.dispose()


def _queue(seeded: Seeded, *findings: Finding) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert(), [
            {"finding_id": f.finding_id, "kind": f.kind.value, "msisdn": f.msisdn, "subscription_id": f.subscription_id,
             "record_ids": list(f.record_ids), "amount_minor": f.amount_minor, "currency": f.currency, "status": "open",
             "evidence": dict(f.evidence), "detected_at": f.detected_at, "resolved_at": None, "resolved_by": None, "resolution": None}
            for f in findings
        ])


def _music(finding_id: str, kind: FindingKind) -> Finding:
    """Alice's music-pack charge (record r-3, 10.00), which her October bill carried."""
    return Finding(finding_id=finding_id, kind=kind, msisdn=ALICE, record_ids=("r-3",), subscription_id="sub-a1", amount=Decimal("10.00"),
                   currency="CNY", detected_at=NOW, evidence={"source": "canonical", "verdict": "after_cancellation"})


def test_a_refund_gives_back_the_charge_and_its_tax(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    with seeded.engine.connect() as conn:
        bill = get_bill(conn, bill_id_for(ALICE, PERIOD))
    assert bill is not None and bill.amount_of("vas") == 1000
    assert [ln.amount_minor for ln in bill.lines if ln.rule_id == "tax/vas"] == [60]
    _queue(seeded, _music("fnd-tax-a", FindingKind.CHARGE_AFTER_CANCELLATION), _music("fnd-tax-b", FindingKind.UNCONSENTED_CHARGE))
    agent = auth(tokens["agent1"])
    assert client.post("/api/v1/complaints/cmp-1/take", headers=agent).status_code == 200

    r = client.post("/api/v1/findings/fnd-tax-a/refund", headers=agent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "refunded"
    assert body["adjustment"]["amount"] == "10.60"
    assert body["adjustment"]["tax"] == "0.60"
    assert body["finding"]["resolution"] == "refunded: charge after the subscription ended (10.60 CNY, tax 0.60 CNY included)"

    again = client.post("/api/v1/findings/fnd-tax-b/refund", headers=agent)  # the same charge: refunded already
    assert again.status_code == 200 and again.json()["outcome"] == "refunded_before"
    assert again.json()["adjustment"] == body["adjustment"]
    t = table_of(Adjustment)
    with seeded.engine.connect() as conn:
        rows = conn.execute(select(t.c.amount_minor, t.c.old_amount_minor, t.c.bill_id).where(t.c.msisdn == ALICE, t.c.kind == "refund")).all()
    assert [tuple(r) for r in rows] == [(1060, 1000, bill.bill_id)]


def test_a_refund_of_a_charge_in_part_on_the_bill_gives_back_the_tax_of_that_part(client: TestClient, tokens: dict[str, str],
                                                                                   seeded: Seeded) -> None:
    """Bob's news service charged twice (r-7, r-8): the gate billed r-7 only (5.00, taxed 0.30)."""
    agent = auth(tokens["agent1"])
    assert client.post("/api/v1/complaints/cmp-2/take", headers=agent).status_code == 200
    r = client.post("/api/v1/findings/fnd-2/refund", headers=agent)
    assert r.status_code == 200, r.text
    assert r.json()["adjustment"]["amount"] == "5.30"
    assert r.json()["adjustment"]["tax"] == "0.30"
    with seeded.engine.connect() as conn:
        bob = get_bill(conn, bill_id_for(BOB, PERIOD))
    assert bob is not None and [ln.amount_minor for ln in bob.lines if ln.rule_id == "tax/vas"] == [30]
