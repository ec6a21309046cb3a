"""Bills and adjustments in the database, on SQLite and PostgreSQL: issue once, reissue changes nothing,
adjustments are appended and carried into exactly one later bill, statements add up to the stored bill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fairtel.billing import (
    Account,
    AdjustmentEntry,
    AdjustmentKind,
    LineKind,
    bill_id_for,
    build_statement,
    rerate_differences,
    run_bills,
)
from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.core.errors import ConflictError
from fairtel.rating import rate
from fairtel.store import (
    Adjustment,
    Bill,
    BillLine,
    adjustments_of,
    bills_of_period,
    get_bill,
    issue_bills,
    issued_bills,
    pending_adjustments,
    record_adjustments,
    rerate_entries,
)
from fairtel.store._schema import table_of

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
CATALOG = load_catalog(default_catalog_path())
ACCOUNTS = [Account(A, "basic-39", datetime(2025, 1, 1, tzinfo=CN)), Account(B, "payg", datetime(2026, 3, 1, tzinfo=CN))]
MARCH, APRIL = "2026-03", "2026-04"
T0 = datetime(2026, 4, 1, 8, tzinfo=CN)


def usage(period_day: int = 3) -> pl.DataFrame:
    def rec(rid: str, msisdn: str, seconds: int, peer: str) -> dict[str, Any]:
        return {"record_id": rid, "source": "sw", "msisdn": msisdn, "kind": "voice", "direction": "out",
                "started_at": datetime(2026, 3, period_day, 9, tzinfo=CN).astimezone(UTC), "duration_s": seconds, "peer": peer}

    return pl.DataFrame([rec("v1", A, 61, "85261234567"), rec("v2", A, 300, "8613912345678"), rec("v3", B, 90, "8613912345678")])


def rated(catalog: Any = CATALOG) -> pl.DataFrame:
    return rate(usage(), catalog, {a.msisdn: a.plan_id for a in ACCOUNTS}, period=MARCH).rated


def stored_rows(engine: Engine) -> tuple[list[Any], list[Any]]:
    with engine.connect() as conn:
        bills = conn.execute(select(table_of(Bill)).order_by("bill_id")).all()
        lines = conn.execute(select(table_of(BillLine)).order_by("bill_id", "line_no")).all()
    return [tuple(r) for r in bills], [tuple(r) for r in lines]


def test_issue_once_and_reissue_changes_nothing(engine: Engine) -> None:
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=MARCH, issued_at=T0, run_id="run-1")
    with engine.begin() as conn:
        rep = issue_bills(conn, run)
    assert sorted(rep.issued) == sorted(bill_id_for(m, MARCH) for m in (A, B)) and rep.already_issued == []
    before = stored_rows(engine)
    with engine.connect() as conn:
        stored = get_bill(conn, bill_id_for(A, MARCH))
    expected = run.bill_for(A)
    assert stored is not None and expected is not None
    assert (stored.total_minor, stored.tax_minor, stored.charges_minor, stored.run_id, stored.plan_id) == (
        expected.total_minor, expected.tax_minor, expected.charges_minor, "run-1", "basic-39")
    assert stored.lines == expected.lines
    assert stored.issued_at == T0

    # a second run of the same period (later, other run id, even other prices) is refused bill by bill
    again = run_bills(rated(), CATALOG, ACCOUNTS, period=MARCH, issued_at=T0 + timedelta(days=1), run_id="run-2")
    with engine.begin() as conn:
        rep2 = issue_bills(conn, again)
        assert issued_bills(conn, MARCH) == {A: bill_id_for(A, MARCH), B: bill_id_for(B, MARCH)}
    assert rep2.issued == [] and len(rep2.already_issued) == 2
    assert stored_rows(engine) == before


def test_adjustments_are_appended_and_carried_into_one_later_bill(engine: Engine) -> None:
    march = run_bills(rated(), CATALOG, ACCOUNTS, period=MARCH, issued_at=T0, run_id="run-m")
    with engine.begin() as conn:
        issue_bills(conn, march)
    before = stored_rows(engine)

    # a tariff correction: calls to Hong Kong were over-priced; the difference is a credit entry
    fixed, problems = parse_catalog(default_catalog_path().read_text(encoding="utf-8").replace(
        'rate = "1.50", rate_unit = "60s"', 'rate = "1.20", rate_unit = "60s"'))
    assert fixed is not None, problems
    bills = {b.msisdn: b.bill_id for b in march.bills}
    diff = rerate_differences(march.billed, rated(fixed), period=MARCH, bills=bills, currency="CNY", created_at=T0)
    refund = AdjustmentEntry("adj_refund_1", AdjustmentKind.REFUND, B, 500, "CNY", "charge without consent", T0, "assurance")
    with engine.begin() as conn:
        added = record_adjustments(conn, [*diff.adjustments, refund])
        assert record_adjustments(conn, [*diff.adjustments, refund]) == []  # the same entries again: nothing added
        prior = rerate_entries(conn, MARCH)
    assert len(added) == 2 and [p.record_id for p in prior] == ["v1"]
    assert prior[0].old_amount_minor == 300 and prior[0].new_amount_minor == 240 and prior[0].bill_id == bills[A]
    again = rerate_differences(march.billed, rated(fixed), period=MARCH, bills=bills, currency="CNY", created_at=T0, prior=prior)
    assert again.adjustments == ()
    assert stored_rows(engine) == before  # adjustments never touch an issued bill

    with engine.connect() as conn:
        pending = pending_adjustments(conn)
    assert {p.adjustment_id for p in pending} == set(added)
    april = run_bills(rated().head(0), CATALOG, ACCOUNTS, period=APRIL, issued_at=T0 + timedelta(days=30), run_id="run-a",
                      adjustments=pending)
    with engine.begin() as conn:
        rep = issue_bills(conn, april)
        assert pending_adjustments(conn) == []
    assert rep.adjustments_carried == 2
    a_april = april.bill_for(A)
    assert a_april is not None and a_april.adjustments_minor == -60 and a_april.total_minor == 3900 - 60
    b_april = april.bill_for(B)
    assert b_april is not None and b_april.amount_of(LineKind.ADJUSTMENT) == -500

    # carrying an entry a second time is impossible, even by a run built from a stale list of pending entries
    may = run_bills(rated().head(0), CATALOG, ACCOUNTS, period="2026-05",
                    issued_at=T0 + timedelta(days=60), run_id="run-y", adjustments=pending)
    with engine.begin() as conn, pytest.raises(ConflictError):
        issue_bills(conn, may)
    with engine.connect() as conn:
        assert len(adjustments_of(conn, A)) == 1
        assert [b.msisdn for b in bills_of_period(conn, APRIL)] == [A, B]
        assert conn.scalar(select(table_of(Adjustment).c.amount_minor).where(table_of(Adjustment).c.adjustment_id == "adj_refund_1")) == 500


def test_statement_of_a_stored_bill_adds_up(engine: Engine) -> None:
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=MARCH, issued_at=T0, run_id="run-s")
    with engine.begin() as conn:
        issue_bills(conn, run)
        stored = get_bill(conn, bill_id_for(A, MARCH))
    assert stored is not None
    st = build_statement(stored, run.billed, catalog=CATALOG, language="zh", usage=usage())
    assert st.total_minor == stored.total_minor == 3900 + 300
    assert sum(line.amount_minor for line in st.lines if line.section == "voice") == 300
