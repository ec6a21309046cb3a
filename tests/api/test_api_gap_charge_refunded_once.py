"""A charge is refunded at most once in total, whatever findings name it and whatever path refunds it: what one
finding refunded is taken off what another about the same records refunds (the API after ``assure --refund`` and
the other way round); a finding whose amount grew (late usage past a cap) refunds the increment, once; a refund of
usage past a cap names the bill that charged it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fairtel_seed import ALICE, BOB, PASSWORD, PERIOD, USERS, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.assurance import Finding, FindingKind
from fairtel.billing import bill_id_for
from fairtel.cli._assure_refunds import post_refunds
from fairtel.store import Adjustment
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(client: TestClient) -> dict[str, str]:
    out = {}
    for user in USERS:
        r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[user] = r.json()["access_token"]
    return out


def refunds(seeded: Seeded, msisdn: str) -> list[tuple[Any, ...]]:
    """(finding, charge before tax, bill) of each refund of ``msisdn``, oldest first."""
    t = table_of(Adjustment)
    with seeded.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(t.c.finding_id, t.c.old_amount_minor, t.c.bill_id)
            .where(t.c.msisdn == msisdn, t.c.kind == "refund").order_by(t.c.created_at, t.c.adjustment_id))]


def finding(finding_id: str, kind: FindingKind, msisdn: str, record: str, amount: str, *, source: str | None = "canonical",
            records: tuple[str, ...] | None = None) -> Finding:
    evidence: dict[str, Any] = {} if source is None else {"source": source}
    return Finding(finding_id=finding_id, kind=kind, msisdn=msisdn, record_ids=records or (record,), subscription_id=None,
                   amount=Decimal(amount), currency="CNY", detected_at=NOW, evidence=evidence)


def queue(seeded: Seeded, *findings: Finding) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert(), [
            {"finding_id": f.finding_id, "kind": f.kind.value, "msisdn": f.msisdn, "subscription_id": f.subscription_id,
             "record_ids": list(f.record_ids), "amount_minor": f.amount_minor, "currency": f.currency, "status": "open",
             "evidence": dict(f.evidence), "detected_at": f.detected_at, "resolved_at": None, "resolved_by": None, "resolution": None}
            for f in findings
        ])


def status(seeded: Seeded, finding_id: str) -> str:
    t = table_of(FindingRow)
    with seeded.engine.connect() as conn:
        return str(conn.execute(select(t.c.status).where(t.c.finding_id == finding_id)).scalar_one())


def agent(client: TestClient, tokens: dict[str, str], complaint_id: str) -> dict[str, str]:
    h = auth(tokens["agent1"])
    r = client.post(f"/api/v1/complaints/{complaint_id}/take", headers=h)
    assert r.status_code in (200, 409), r.text
    return h


def test_a_charge_the_api_refunded_under_one_finding_is_not_refunded_again_by_assure(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    """The agent refunds Alice's 10.00 music charge for a confirmation made at machine speed; a cancellation dated
    before it then gives a charge-after-cancellation finding about the same record: ``assure --refund`` posts
    nothing more, and a rerun neither."""
    fast = finding("fnd-once-fast", FindingKind.MACHINE_SPEED_CONFIRMATION, ALICE, "r-3", "10.00", source=None)
    late = finding("fnd-once-cancel", FindingKind.CHARGE_AFTER_CANCELLATION, ALICE, "r-3", "10.00")
    queue(seeded, fast, late)
    r = client.post("/api/v1/findings/fnd-once-fast/refund", headers=agent(client, tokens, "cmp-1"))
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "refunded"
    first = refunds(seeded, ALICE)
    outcome = post_refunds(seeded.app, [late], outside_billing=False, now=NOW)
    assert outcome.posted == [] and outcome.already_refunded == 1
    assert refunds(seeded, ALICE) == first
    assert status(seeded, "fnd-once-cancel") == "resolved"
    assert post_refunds(seeded.app, [late], outside_billing=False, now=NOW).posted == []
    assert refunds(seeded, ALICE) == first
    assert first == [("fnd-once-fast", 1000, bill_id_for(ALICE, PERIOD))]  # names the bill that charged it


def test_an_overcharge_refunded_first_leaves_the_rest_of_the_charge_to_refund(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    """Bob's 5.00 news charge: 2.00 over-charged, refunded by ``assure --refund``; the whole charge is then found
    after a cancellation and refunded through the API: 3.00 more, 5.00 in all, never 7.00."""
    over = finding("fnd-once-price", FindingKind.PRICE_MISMATCH, BOB, "r-7", "2.00")
    whole = finding("fnd-once-whole", FindingKind.CHARGE_AFTER_CANCELLATION, BOB, "r-7", "5.00")
    queue(seeded, over, whole)
    assert [a.charge for a in post_refunds(seeded.app, [over], outside_billing=False, now=NOW).posted] == [Decimal("2.00")]
    r = client.post("/api/v1/findings/fnd-once-whole/refund", headers=agent(client, tokens, "cmp-2"))
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "refunded"
    charged = [row for row in refunds(seeded, BOB) if row[0] in ("fnd-once-price", "fnd-once-whole")]
    assert [(f, m) for f, m, _ in charged] == [("fnd-once-price", 200), ("fnd-once-whole", 300)]
    assert post_refunds(seeded.app, [over, whole], outside_billing=False, now=NOW).posted == []


def test_usage_past_a_cap_refund_names_the_bill_that_charged_it(seeded: Seeded) -> None:
    cap = finding("fnd-once-capbill", FindingKind.USAGE_PAST_CAP, ALICE, "r-2", "1.00", source=None)
    queue(seeded, cap)
    out = post_refunds(seeded.app, [cap], outside_billing=False, now=NOW)
    assert [a.charge for a in out.posted] == [Decimal("1.00")]
    assert [row for row in refunds(seeded, ALICE) if row[0] == "fnd-once-capbill"] == [("fnd-once-capbill", 100, bill_id_for(ALICE, PERIOD))]


def test_usage_past_a_cap_refunds_what_it_grew_by_once(seeded: Seeded) -> None:
    """Bob's usage past a cap: 1.00 refunded; late usage makes the same finding 1.50: the 0.50 more is refunded,
    once."""
    cap = finding("fnd-once-cap", FindingKind.USAGE_PAST_CAP, BOB, "r-5", "1.00", source=None)
    queue(seeded, cap)
    out = post_refunds(seeded.app, [cap], outside_billing=False, now=NOW)
    assert [a.charge for a in out.posted] == [Decimal("1.00")]
    grown = finding("fnd-once-cap", FindingKind.USAGE_PAST_CAP, BOB, "r-5", "1.50", source=None, records=("r-5", "r-6"))
    out = post_refunds(seeded.app, [grown], outside_billing=False, now=NOW)
    assert [a.charge for a in out.posted] == [Decimal("0.50")]
    assert post_refunds(seeded.app, [grown], outside_billing=False, now=NOW).posted == []
    assert sorted(row[1] for row in refunds(seeded, BOB) if row[0] == "fnd-once-cap") == [50, 100]
