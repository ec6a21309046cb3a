"""Plan fees rerated: a corrected monthly fee reaches each issued bill pro-rated by the bill's own days in
service, tax included as the bill taxed it, once (a second rerate issues nothing; a fee changed back issues the
reverse entry). And the bill run's snapshot check that keeps rerating from charging a lost snapshot again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl

from fairtel.billing import (
    Account,
    AdjustmentKind,
    BillingPolicy,
    LineKind,
    rerate_fees,
    run_bills,
    snapshot_mismatches,
)
from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
CATALOG = load_catalog(default_catalog_path())
TEXT = default_catalog_path().read_text(encoding="utf-8")
NOW = datetime(2026, 4, 2, 9, tzinfo=CN)
P = "2026-03"
ACCOUNTS = [
    Account(A, "basic-39", datetime(2025, 1, 1, tzinfo=CN)),  # the whole of March
    Account(B, "payg", datetime(2025, 1, 1, tzinfo=CN)),  # no fee
    Account(C, "senior-19", datetime(2026, 3, 16, 12, tzinfo=CN)),  # 16 of 31 days
]
BY = {a.msisdn: a for a in ACCOUNTS}


def catalog(**fees: str) -> Any:
    """The demo catalog with some plans' monthly fees corrected (plan id with ``_`` for ``-``)."""
    text = TEXT
    for plan, fee in fees.items():
        block = text.index(f'id = "{plan.replace("_", "-")}"')
        at = text.index("monthly_fee = ", block)
        end = text.index("\n", at)
        text = text[:at] + f'monthly_fee = "{fee}"' + text[end:]
    cat, problems = parse_catalog(text)
    assert cat is not None, problems
    return cat


def bills(policy: BillingPolicy | None = None) -> Any:
    empty = pl.DataFrame(schema={"record_id": pl.String(), "msisdn": pl.String(), "period": pl.String(),
                                 "started_at": pl.Datetime("us", "UTC"), "kind": pl.String(), "rule_id": pl.String(),
                                 "amount_minor": pl.Int64(), "currency": pl.String()})
    return run_bills(empty, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r1", policy=policy).bills


def fees(cat: Any, prior: Any = (), policy: BillingPolicy | None = None, accounts: Any = BY, issued: Any = None) -> Any:
    return rerate_fees(issued if issued is not None else bills(policy), cat, period=P, created_at=NOW, accounts=accounts,
                       prior=prior, policy=policy)


def test_an_unchanged_catalog_issues_nothing() -> None:
    out = fees(CATALOG)
    assert out.adjustments == () and out.changes == () and out.compared == 3 and out.missing == ()


def test_a_corrected_fee_is_issued_pro_rated_as_the_bill_was_and_only_once() -> None:
    cat = catalog(basic_39="42.00", senior_19="20.00")
    first = fees(cat)
    by = {a.msisdn: a for a in first.adjustments}
    assert set(by) == {A, C}
    assert by[A].kind is AdjustmentKind.DEBIT and by[A].amount_minor == 300  # 39.00 → 42.00, whole month
    # 19.00 × 16/31 = 9.81 billed; 20.00 × 16/31 = 10.32: the same days, rounded once
    assert (by[C].old_amount_minor, by[C].new_amount_minor, by[C].amount_minor) == (981, 1032, 51)
    assert by[C].period == P and by[C].record_id is None and by[C].rule_id == "senior-19"
    assert by[C].bill_id == next(b.bill_id for b in bills() if b.msisdn == C)
    assert "days=16/31" in by[C].reason.split()  # the reason is a code and parameters a statement words
    # the same entries are what a bill run under the corrected catalog would charge more
    corrected = run_bills(pl.DataFrame(schema={"record_id": pl.String(), "msisdn": pl.String(), "period": pl.String(),
                                               "started_at": pl.Datetime("us", "UTC"), "kind": pl.String(),
                                               "rule_id": pl.String(), "amount_minor": pl.Int64(), "currency": pl.String()}),
                          cat, ACCOUNTS, period=P, issued_at=NOW, run_id="r2").bills
    assert first.net_minor == sum(b.total_minor for b in corrected) - sum(b.total_minor for b in bills())

    second = fees(cat, prior=first.adjustments)
    assert second.adjustments == () and second.changes == ()  # rerating twice issues nothing

    back = fees(CATALOG, prior=first.adjustments)  # the correction withdrawn: the reverse, under new ids
    assert sorted((a.msisdn, a.signed_minor) for a in back.adjustments) == [(A, -300), (C, -51)]
    assert not {a.adjustment_id for a in back.adjustments} & {a.adjustment_id for a in first.adjustments}
    assert fees(CATALOG, prior=[*first.adjustments, *back.adjustments]).adjustments == ()


def test_the_fee_entry_carries_the_tax_the_bill_would_have_added() -> None:
    policy = BillingPolicy(tax_rates={"plan_fee": Decimal("0.06")})
    out = fees(catalog(basic_39="42.00"), policy=policy)
    (entry,) = out.adjustments
    assert entry.msisdn == A and entry.amount_minor == 300 + (252 - 234)  # fee difference + its 6 % tax difference


def test_a_plan_given_a_fee_reaches_bills_that_had_no_fee_line_by_the_accounts_days() -> None:
    out = fees(catalog(payg="10.00"))
    (entry,) = out.adjustments
    assert entry.msisdn == B and entry.amount_minor == 1000
    # without the account the days are unknown: left as billed, and said so
    unknown = fees(catalog(payg="10.00"), accounts={})
    assert unknown.adjustments == () and unknown.missing == tuple(b.bill_id for b in bills() if b.msisdn == B)


def test_a_bill_whose_plan_left_the_catalog_is_left_as_billed() -> None:
    issued = [b for b in bills() if b.msisdn == A]
    from dataclasses import replace

    gone = [replace(issued[0], plan_id="retired-plan")]
    out = fees(catalog(basic_39="42.00"), issued=gone)
    assert out.adjustments == () and out.missing == (issued[0].bill_id,)


def test_a_snapshot_that_does_not_add_up_to_its_bill_is_named() -> None:
    usage = pl.DataFrame([
        {"record_id": "v1", "source": "sw", "msisdn": A, "kind": "voice", "direction": "out",
         "started_at": datetime(2026, 3, 3, 10, tzinfo=CN).astimezone(UTC), "duration_s": 61, "peer": "85261234567"},
        {"record_id": "v2", "source": "sw", "msisdn": A, "kind": "voice", "direction": "out",
         "started_at": datetime(2026, 3, 4, 10, tzinfo=CN).astimezone(UTC), "duration_s": 30, "peer": "8613912345678"},
    ])
    rated = rate(usage, CATALOG, {a.msisdn: a.plan_id for a in ACCOUNTS}, period=P).rated
    run = run_bills(rated, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r1")
    assert snapshot_mismatches(run.bills, run.billed) == []
    a_bill = run.bill_for(A)
    assert a_bill is not None and any(ln.kind is LineKind.VOICE for ln in a_bill.lines)
    assert snapshot_mismatches(run.bills, run.billed.head(0)) == [a_bill.bill_id]  # lost
    # one line lost, even a zero-amount allowance draw, is seen by its quantity
    assert snapshot_mismatches(run.bills, run.billed.filter(pl.col("record_id") != "v2")) == [a_bill.bill_id]


def test_usage_of_a_line_activated_after_the_period_is_not_dropped_silently() -> None:
    usage = pl.DataFrame([{"record_id": "v1", "source": "sw", "msisdn": C, "kind": "voice", "direction": "out",
                           "started_at": datetime(2026, 3, 3, 10, tzinfo=CN).astimezone(UTC), "duration_s": 61,
                           "peer": "8613912345678"}])
    rated = rate(usage, CATALOG, {C: "senior-19"}, period=P).rated
    later = [Account(C, "senior-19", datetime(2026, 4, 2, tzinfo=CN))]
    run = run_bills(rated, CATALOG, later, period=P, issued_at=NOW, run_id="r1")
    assert run.bills == ()
    assert any("activated after 2026-03 left unbilled" in n and C in n for n in run.notes)
