"""Rerating audited against the bill it corrects: tax kept exact per bill, one currency, the billed plan."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtel.billing import Account, AdjustmentEntry, AdjustmentKind, BillingPolicy, rerate_differences, run_bills
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.errors import CurrencyMismatchError
from fairtel.rating import rate

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_run import ACCOUNTS, SUBS, USAGE, A, B, corrected_catalog, rated

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
P = "2026-03"
VOICE_9 = BillingPolicy(tax_rates={"voice": Decimal("0.09")})
PAYG = [Account(A, "payg", datetime(2025, 1, 1, tzinfo=CN))]


def lines(amounts: list[int], currency: str = "CNY") -> pl.DataFrame:
    return pl.DataFrame([
        {"record_id": f"r{i}", "source": "sw", "line": 0, "msisdn": A, "period": P, "started_at": datetime(2026, 3, 3, tzinfo=UTC),
         "kind": "voice", "plan_id": "payg", "rule_id": "intl/voice-intl-1", "quantity": 60, "unit": "second",
         "amount_minor": amount, "currency": currency}
        for i, amount in enumerate(amounts)
    ])


def total(frame: pl.DataFrame, policy: BillingPolicy = VOICE_9) -> int:
    run = run_bills(frame, CATALOG, PAYG, period=P, issued_at=NOW, run_id="r", policy=policy)
    return run.bills[0].total_minor


def rerate(billed: pl.DataFrame, rerated: pl.DataFrame, prior: Any = (), policy: BillingPolicy = VOICE_9) -> Any:
    bill_id = run_bills(billed, CATALOG, PAYG, period=P, issued_at=NOW, run_id="r").bills[0].bill_id
    return rerate_differences(billed, rerated, period=P, bills={A: bill_id}, currency="CNY", created_at=NOW, prior=prior,
                              policy=policy)


def test_rerate_entries_change_the_bill_by_what_a_corrected_bill_would_differ() -> None:
    # ten calls 1.00 → 1.05 at 9 % tax: the bill's voice tax goes from 0.90 to 0.945 → 0.95, so the subscriber
    # owes 0.55 more; taxing each 0.05 difference on its own (0.0045 → 0) would collect 0.50 and lose the tax
    old, new = lines([100] * 10), lines([105] * 10)
    first = rerate(old, new)
    assert first.net_minor == total(new) - total(old) == 55
    assert all(a.kind is AdjustmentKind.DEBIT for a in first.adjustments) and len(first.adjustments) == 10
    assert rerate(old, new, prior=first.adjustments).adjustments == ()  # idempotent
    # a second correction and the tariff changed back: every step is the difference of the bills, exactly
    later = lines([103] * 10)
    second = rerate(old, later, prior=first.adjustments)
    assert second.net_minor == total(later) - total(new)
    back = rerate(old, old, prior=first.adjustments + second.adjustments)
    assert back.net_minor == total(old) - total(later)
    assert first.net_minor + second.net_minor + back.net_minor == 0


def test_rerate_tax_of_a_credit_mirrors_the_debit() -> None:
    old, new = lines([105] * 10), lines([100] * 10)
    res = rerate(old, new)
    assert res.net_minor == total(new) - total(old) == -55
    assert all(a.kind is AdjustmentKind.CREDIT for a in res.adjustments)


def test_rerate_refuses_to_compare_amounts_in_another_currency() -> None:
    old = lines([100] * 3)
    with pytest.raises(CurrencyMismatchError):
        rerate(old, lines([120] * 3, currency="HKD"))
    with pytest.raises(CurrencyMismatchError):
        rerate(lines([100] * 3, currency="HKD"), old)
    foreign = AdjustmentEntry("adj_x", AdjustmentKind.CREDIT, A, 10, "HKD", "x", NOW, "rerate", period=P, source="sw",
                              record_id="r0", old_amount_minor=100, new_amount_minor=90)
    with pytest.raises(CurrencyMismatchError):
        rerate(old, old, prior=[foreign])


def test_rerate_leaves_records_rated_under_another_plan_than_billed_as_billed() -> None:
    # A was billed March on basic-39 (calls, SMS and data within the allowance) and moved to payg in April; a
    # rerate of March must not price March under payg and charge what basic-39 covered
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r")
    bills = {b.msisdn: b.bill_id for b in run.bills}
    moved = rate(USAGE, CATALOG, SUBS | {A: "payg"}, period=P).rated
    res = rerate_differences(run.billed, moved, period=P, bills=bills, currency="CNY", created_at=NOW)
    assert [a for a in res.adjustments if a.msisdn == A] == []
    assert {"sw1/v1", "sw1/v2", "sw1/s1", "sw1/d1"} <= set(res.missing)
    # a tariff correction still reaches the subscribers still on their billed plan
    fixed = rate(USAGE, corrected_catalog(), SUBS | {A: "payg"}, period=P).rated
    assert rerate_differences(run.billed, fixed, period=P, bills=bills, currency="CNY", created_at=NOW).adjustments == ()
    same_plan = rerate_differences(run.billed, rated(corrected_catalog()), period=P, bills=bills, currency="CNY",
                                   created_at=NOW)
    assert [(a.msisdn, a.record_id, a.kind, a.amount_minor) for a in same_plan.adjustments] == [
        (A, "v2", AdjustmentKind.CREDIT, 60)]
    assert B in bills


MSISDNS = (A, B)
RATES = st.decimals(min_value=0, max_value=Decimal("0.25"), places=3, allow_nan=False, allow_infinity=False)


def _bill_totals(frame: pl.DataFrame, policy: BillingPolicy) -> dict[str, int]:
    accounts = [Account(m, "payg", datetime(2025, 1, 1, tzinfo=CN)) for m in MSISDNS]
    return {b.msisdn: b.total_minor for b in run_bills(frame, CATALOG, accounts, period=P, issued_at=NOW, run_id="r",
                                                       policy=policy).bills}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(MSISDNS), st.sampled_from(["voice", "sms", "data"]),
                          st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 5000)), min_size=1, max_size=25),
       st.dictionaries(st.sampled_from(["voice", "sms", "data"]), RATES, max_size=3))
def test_rerate_entries_always_sum_to_the_difference_of_the_bills(rows: list[tuple[str, str, int, int, int]],
                                                                  rates: dict[str, Decimal]) -> None:
    policy = BillingPolicy(tax_rates=rates)

    def frame(step: int) -> pl.DataFrame:
        return pl.DataFrame([
            {"record_id": f"r{i}", "source": "sw", "msisdn": m, "period": P, "started_at": datetime(2026, 3, 3, tzinfo=UTC),
             "kind": kind, "plan_id": "payg", "rule_id": f"payg/{kind}", "amount_minor": amounts[step], "currency": "CNY"}
            for i, (m, kind, *amounts) in enumerate(rows)
        ], schema_overrides={"amount_minor": pl.Int64()})

    billed = frame(0)
    bills = {m: f"bill_{m}" for m in MSISDNS}
    issued: list[AdjustmentEntry] = []
    before = _bill_totals(billed, policy)
    for step in (1, 2, 0):
        now = _bill_totals(frame(step), policy)
        res = rerate_differences(billed, frame(step), period=P, bills=bills, currency="CNY", created_at=NOW, prior=issued,
                                 policy=policy)
        for m in MSISDNS:
            assert sum(a.signed_minor for a in res.adjustments if a.msisdn == m) == now.get(m, 0) - before.get(m, 0)
        issued += res.adjustments
        again = rerate_differences(billed, frame(step), period=P, bills=bills, currency="CNY", created_at=NOW, prior=issued,
                                   policy=policy)
        assert again.adjustments == ()
        before = now
