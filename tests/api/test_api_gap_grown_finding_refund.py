"""A finding that grew (usage past a cap: late usage adds records) takes its new records and amount in the work
queue, its status kept; a charge its refund covered is not refunded again through another finding about it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fairtel_seed import ALICE, BOB, PERIOD, Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.assurance import Finding, FindingKind, FindingStatus, findings_frame
from fairtel.cli._assure_refunds import queue_findings
from fairtel.store import Adjustment, Lake
from fairtel.store import Finding as FindingRow
from fairtel.store._schema import table_of

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def cap_finding(records: tuple[str, ...], amount: str) -> Finding:
    return Finding(finding_id="fnd-cap", kind=FindingKind.USAGE_PAST_CAP, msisdn=ALICE, record_ids=records, subscription_id="sub-a1",
                   amount=Decimal(amount), currency="CNY", detected_at=NOW, status=FindingStatus.OPEN,
                   evidence={"period": PERIOD, "policy": "own_roaming_cap", "cap": "5.00"})


def row(seeded: Seeded, finding_id: str) -> Any:
    t = table_of(FindingRow)
    with seeded.engine.connect() as conn:
        return conn.execute(select(t).where(t.c.finding_id == finding_id)).one()


def refunds(seeded: Seeded) -> list[tuple[Any, ...]]:
    t = table_of(Adjustment)
    with seeded.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(t.c.adjustment_id, t.c.finding_id, t.c.amount_minor)
                                               .where(t.c.msisdn == ALICE, t.c.kind == "refund").order_by(t.c.adjustment_id))]


def test_a_grown_past_cap_refund_covers_its_new_records_for_every_path(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    lake = Lake(seeded.settings.lake_dir)
    # first run: 4.00 past the cap on r-2; queued, refunded and resolved
    lake.write("findings", PERIOD, findings_frame([cap_finding(("r-2",), "4.00")]).to_arrow(), part="assure")
    queue_findings(seeded.app)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).update().where(table_of(FindingRow).c.finding_id == "fnd-cap")
                     .values(status="resolved", resolved_at=NOW, resolved_by="assure", resolution="refunded: usage charged after the spending cap"))
        # the refund of what it grew to (r-2 and the 10.00 music charge r-3 past the cap): 14.00
        conn.execute(table_of(Adjustment).insert().values(
            adjustment_id="adj-cap", kind="refund", msisdn=ALICE, bill_id=None, finding_id="fnd-cap", amount_minor=1400, currency="CNY",
            reason="usage charged after the spending cap", created_at=NOW, created_by="assure", old_amount_minor=1400, new_amount_minor=0))
    # a later run: the finding grew to r-2 and r-3
    lake.write("findings", PERIOD, findings_frame([cap_finding(("r-2", "r-3"), "14.00")]).to_arrow(), part="assure")
    queue_findings(seeded.app)
    grown = row(seeded, "fnd-cap")
    assert (list(grown.record_ids), grown.amount_minor) == (["r-2", "r-3"], 1400)
    assert (grown.status, grown.resolution) == ("resolved", "refunded: usage charged after the spending cap")
    assert grown.evidence["policy"] == "own_roaming_cap"

    # another finding about r-3 (the music charge): the past-cap refund gave it back already
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert().values(
            finding_id="fnd-r3", kind="unconsented_charge", msisdn=ALICE, subscription_id="sub-a1", record_ids=["r-3"], amount_minor=1000,
            currency="CNY", status="open", evidence={"source": "canonical", "offer_id": "vas-music-10"}, detected_at=NOW,
            resolved_at=None, resolved_by=None, resolution=None))
    h = auth(tokens["agent1"])
    assert client.post("/api/v1/complaints/cmp-1/take", headers=h).status_code == 200
    r = client.post("/api/v1/findings/fnd-r3/refund", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "refunded_before", body
    assert body["adjustment"]["adjustment_id"] == "adj-cap"
    assert refunds(seeded) == [("adj-cap", "fnd-cap", 1400)]  # r-3 refunded once in total


def test_a_refund_of_a_finding_the_queue_holds_stale_still_counts_its_grown_records(
    client: TestClient, tokens: dict[str, str], seeded: Seeded,
) -> None:
    """The queue row was written before the finding grew and not brought up to date yet (a server started
    before the run that grew it): the refund reads what the finding covers from the lake."""
    lake = Lake(seeded.settings.lake_dir)
    grown = replace(cap_finding(("r-5", "r-6"), "6.00"), finding_id="fnd-cap2", msisdn=BOB, subscription_id=None)
    lake.write("findings", PERIOD, findings_frame([grown]).to_arrow(), part="assure-later")
    with seeded.engine.begin() as conn:
        conn.execute(table_of(FindingRow).insert().values(
            finding_id="fnd-cap2", kind="usage_past_cap", msisdn=BOB, subscription_id=None, record_ids=["r-5"], amount_minor=500,
            currency="CNY", status="resolved", evidence=dict(grown.evidence), detected_at=NOW, resolved_at=NOW, resolved_by="assure",
            resolution="refunded: usage charged after the spending cap"))
        conn.execute(table_of(FindingRow).insert().values(
            finding_id="fnd-r6", kind="duplicate_charge", msisdn=BOB, subscription_id=None, record_ids=["r-6"], amount_minor=10,
            currency="CNY", status="open", evidence={"source": "canonical"}, detected_at=NOW, resolved_at=None, resolved_by=None,
            resolution=None))
        conn.execute(table_of(Adjustment).insert().values(
            adjustment_id="adj-cap2", kind="refund", msisdn=BOB, bill_id=None, finding_id="fnd-cap2", amount_minor=600, currency="CNY",
            reason="usage charged after the spending cap", created_at=NOW, created_by="assure", old_amount_minor=600, new_amount_minor=0))
    h = auth(tokens["agent1"])
    assert client.post("/api/v1/complaints/cmp-2/take", headers=h).status_code == 200
    r = client.post("/api/v1/findings/fnd-r6/refund", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "refunded_before" and r.json()["adjustment"]["adjustment_id"] == "adj-cap2"
