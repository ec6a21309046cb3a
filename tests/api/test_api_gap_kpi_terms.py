"""The dashboard's complaint figures month by month, as `fairtel kpi` reports them: a reopened complaint counts once,
in the month it was opened, over the lines in service during that month, and each of its resolution terms counts in
the month it began, judged by its own deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairtel_seed import Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import insert

from fairtel.care import ComplaintStatus
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, Customer, Subscriber, move_complaint, open_complaint
from fairtel.store._schema import table_of

LINE = "8613800139001"
DESK = AuditAs("desk-1", "agent", Pseudonymizer("k" * 32, domain="msisdn"))


def test_a_reopened_complaint_counts_once_and_each_term_in_its_month(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    """September 2024 (Asia/Shanghai): the seed's two lines activated before it, a line closed in October (in
    service in September) and one closed in August (not). An unexplained charge opened in September and resolved in
    5 h (due in 48 h), reopened in October and resolved 60 h later."""
    at = datetime(2024, 1, 1, tzinfo=UTC)
    opened, reopened = datetime(2024, 9, 10, 2, 0, tzinfo=UTC), datetime(2024, 10, 15, 2, 0, tzinfo=UTC)
    with seeded.engine.begin() as conn:
        conn.execute(insert(table_of(Customer)).values(customer_id="cust-gap", created_at=at))
        conn.execute(insert(table_of(Subscriber)), [
            {"msisdn": m, "customer_id": "cust-gap", "plan_id": "payg", "activated_at": at, "status": "closed",
             "language": "zh", "region": None, "updated_at": at, "closed_at": closed}
            for m, closed in ((LINE, datetime(2024, 10, 20, tzinfo=UTC)), ("8613800139002", datetime(2024, 8, 1, tzinfo=UTC)))])
        cid = open_complaint(conn, msisdn=LINE, category="unexplained_charge", text="6 yuan", at=opened, audit=DESK).complaint_id
        move_complaint(conn, cid, ComplaintStatus.RESOLVED, at=opened + timedelta(hours=5), audit=DESK)
        move_complaint(conn, cid, ComplaintStatus.REOPENED, at=reopened, audit=DESK)
        move_complaint(conn, cid, ComplaintStatus.RESOLVED, at=reopened + timedelta(hours=60), audit=DESK)
    kpis = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"])).json()
    per_million = {p["label"]: p["value"] for p in kpis["complaints_per_million"]["points"]}
    sla = {p["label"]: p["value"] for p in kpis["sla_attainment"]["points"]}
    assert per_million["2024-09"] == 333333.33 and per_million["2024-10"] == 0.0  # 1 complaint over 3 lines; the reopening is no new one
    assert (sla["2024-09"], sla["2024-10"]) == (1.0, 0.0)  # in time in September; 60 h against 48 h in October


def test_the_headline_figures_are_those_of_fairtel_kpi(client: TestClient, tokens: dict[str, str], seeded: Seeded) -> None:
    """Subscribers: the lines in service at some time this month (a suspended line, a line closed this month), not
    the lines active now; revenue at risk: the open and confirmed charge findings (the seed's 6 + 5 yuan), not a
    machine-speed confirmation whose amount is the same subscription's price, nor a resolved charge."""
    from fairtel.core.time import utc_now
    from fairtel.store import Finding

    at, now = datetime(2024, 1, 1, tzinfo=UTC), utc_now()
    with seeded.engine.begin() as conn:
        conn.execute(insert(table_of(Customer)).values(customer_id="cust-headline", created_at=at))
        conn.execute(insert(table_of(Subscriber)), [
            {"msisdn": m, "customer_id": "cust-headline", "plan_id": "payg", "activated_at": at, "status": status,
             "language": "zh", "region": None, "updated_at": at, "closed_at": closed}
            for m, status, closed in (("8613800139011", "suspended", None), ("8613800139012", "closed", now))])
        conn.execute(insert(table_of(Finding)), [
            {"finding_id": fid, "kind": kind, "msisdn": LINE, "subscription_id": "sub-x", "record_ids": [], "amount_minor": amount,
             "currency": "CNY", "status": status, "evidence": {}, "detected_at": now, "resolved_at": None, "resolved_by": None,
             "resolution": None}
            for fid, kind, amount, status in (("fnd-msc", "machine_speed_confirmation", 900, "open"),
                                              ("fnd-done", "unconsented_charge", 300, "resolved"))])
    kpis = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"])).json()
    assert kpis["subscribers"] == 5  # the seed's 3 active lines, the suspended one, the one closed this month
    assert kpis["revenue_at_risk"] == "11.00"
    by_kind = {p["label"]: p["value"] for p in kpis["findings_by_kind"]["points"]}
    assert by_kind == {"duplicate_charge": 1, "unconsented_charge": 2}
