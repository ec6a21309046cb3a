"""Corrections are taxed as the bill they correct was taxed: a bill keeps the rates it was issued with, and rerating
reckons each entry's tax at those rates (``issued_policy``), not at the rates in force when the rerate runs. A bill
read back without its rates (issued before they were kept) shows them in its tax lines."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl

from fairtel.billing import (
    Account,
    BillingPolicy,
    LineKind,
    charge_late_vas,
    rerate_differences,
    rerate_fees,
    run_bills,
)
from fairtel.billing._model import issued_policy
from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog

CN = timezone(timedelta(hours=8))
A = "8613800000001"
P = "2026-03"
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
CATALOG = load_catalog(default_catalog_path())
ISSUED = BillingPolicy(tax_rates={"voice": Decimal("0.09"), "plan_fee": Decimal("0.06"), "vas": Decimal("0.06")})
NOW_RATES = BillingPolicy(tax_rates={"voice": Decimal("0.20"), "plan_fee": Decimal("0.13"), "vas": Decimal("0.13")})
PAYG = [Account(A, "payg", datetime(2025, 1, 1, tzinfo=CN))]
BASIC = [Account(A, "basic-39", datetime(2025, 1, 1, tzinfo=CN))]


def lines(amounts: list[int], kind: str = "voice", **kw: Any) -> pl.DataFrame:
    return pl.DataFrame([
        {"record_id": f"r{i}", "source": "sw", "line": 0, "msisdn": A, "period": P, "started_at": datetime(2026, 3, 3, tzinfo=UTC),
         "kind": kind, "plan_id": "payg", "rule_id": "payg/voice-domestic-peak", "quantity": 60, "unit": "second",
         "amount_minor": amount, "currency": "CNY", "verdict": "consented", "subscription_id": None} | kw
        for i, amount in enumerate(amounts)
    ])


def bill(rated: pl.DataFrame, accounts: list[Account] = PAYG, policy: BillingPolicy = ISSUED) -> Any:
    return run_bills(rated, CATALOG, accounts, period=P, issued_at=NOW, run_id="r", policy=policy).bills[0]


def test_a_bill_keeps_the_rates_it_was_issued_with_even_for_kinds_it_did_not_tax() -> None:
    b = bill(lines([19, 19, 19]))
    assert b.tax_rates == ISSUED.tax_rates  # VAS and the plan fee included: this bill has neither
    assert issued_policy(b, NOW_RATES).tax_rates == ISSUED.tax_rates


def test_usage_corrections_use_the_bills_rates_not_todays() -> None:
    old, new = lines([19, 19, 19]), lines([29, 29, 29])
    b = bill(old)
    out = rerate_differences(old, new, period=P, bills={A: b.bill_id}, currency="CNY", created_at=NOW,
                             policy=NOW_RATES, policies={A: issued_policy(b, NOW_RATES)})
    # 0.57 taxed 0.05 at 9 %; 0.67, 0.77, 0.87 tax 0.06, 0.07, 0.08: 0.11 each (at 20 % it would be 0.12, 0.12, 0.12)
    assert [a.amount_minor for a in out.adjustments] == [11, 11, 11]
    assert out.net_minor == bill(new).total_minor - b.total_minor


def test_fee_corrections_use_the_bills_rates_not_todays() -> None:
    b = bill(lines([19]).head(0), accounts=BASIC)
    text = default_catalog_path().read_text(encoding="utf-8")
    at = text.index('monthly_fee = ', text.index('id = "basic-39"'))
    cat, problems = parse_catalog(text[:at] + 'monthly_fee = "42.00"' + text[text.index("\n", at):])
    assert cat is not None, problems
    out = rerate_fees([b], cat, period=P, created_at=NOW, policy=NOW_RATES)
    (entry,) = out.adjustments
    assert entry.amount_minor == 300 + (252 - 234)  # 39.00 → 42.00 and its 6 % (not 13 %) tax: 2.34 → 2.52


def test_late_vas_charges_use_the_bills_rates_not_todays() -> None:
    billed = lines([1010], kind="vas", rule_id="offer/vas-music-10", record_id="m1")
    b = bill(billed)
    late = lines([1010], kind="vas", rule_id="offer/vas-music-10", record_id="m2")
    out = charge_late_vas(billed, pl.concat([billed, late]), period=P, bills={A: b.bill_id}, currency="CNY",
                          created_at=NOW, policy=NOW_RATES, policies={A: issued_policy(b, NOW_RATES)})
    (entry,) = out.adjustments
    assert entry.amount_minor == 1010 + (121 - 61)  # the bill's VAS tax at 6 %: 0.61 on 10.10, 1.21 on 20.20


def test_a_bill_read_back_without_its_rates_shows_them_in_its_tax_lines() -> None:
    rated = pl.concat([lines([19, 19, 19]), lines([500], kind="data", record_id="x", rule_id="payg/data", unit="byte")])
    issued = bill(rated, accounts=BASIC, policy=BillingPolicy(tax_rates={"voice": Decimal("0.065"), "plan_fee": Decimal("0.06")}))
    legacy = replace(issued, tax_rates=None)
    assert {ln.rule_id for ln in legacy.lines if ln.kind is LineKind.TAX} == {"tax/voice", "tax/plan_fee"}
    now = BillingPolicy(tax_rates={"voice": Decimal("0.2"), "plan_fee": Decimal("0.13"), "data": Decimal("0.06"),
                                   "sms": Decimal("0.06")})
    rates = issued_policy(legacy, now).tax_rates
    # voice and the fee from their tax lines, exactly; data charged 5.00 with no tax line was not taxed; SMS, not
    # charged at all, cannot tell and takes the rate now
    assert rates == {"voice": Decimal("0.065"), "plan_fee": Decimal("0.06"), "sms": Decimal("0.06")}
