"""``charge_late_vas``: a consented VAS charge no bill holds becomes one debit, tax being what it adds to the bill's
VAS tax (taxed once per bill, not per charge); a charge with an entry already, or refused by the gate now or when
rating stored it, is never charged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl

from fairtel.billing import AdjustmentKind, BillingPolicy, charge_late_vas

CN = timezone(timedelta(hours=8))
A, B = "8613800000001", "8613800000002"
P = "2026-03"
NOW = datetime(2026, 4, 2, 9, tzinfo=CN)
BILLS = {A: "bill-a", B: "bill-b"}
POLICY = BillingPolicy(tax_rates={"vas": Decimal("0.06")})


def vas(rid: str, msisdn: str, minor: int, verdict: str = "consented", **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "spgw", "msisdn": msisdn, "period": P, "kind": "vas", "rule_id": "offer/vas-x",
            "started_at": datetime(2026, 3, 3, tzinfo=UTC), "amount_minor": minor, "currency": "CNY", "verdict": verdict,
            "subscription_id": "s1"} | kw


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"record_id": pl.String(), "source": pl.String(), "msisdn": pl.String(),
                                      "period": pl.String(), "kind": pl.String(), "rule_id": pl.String(),
                                      "started_at": pl.Datetime("us", "UTC"), "amount_minor": pl.Int64(),
                                      "currency": pl.String(), "verdict": pl.String(), "subscription_id": pl.String()})


def late(billed: list[dict[str, Any]], rerated: list[dict[str, Any]], **kw: Any) -> Any:
    return charge_late_vas(frame(billed), frame(rerated), period=P, bills=BILLS, currency="CNY", created_at=NOW,
                           policy=POLICY, **kw)


def test_the_tax_of_a_late_charge_is_what_it_adds_to_the_bills_vas_tax() -> None:
    billed = [vas("b1", A, 1010)]  # the bill taxed 10.10 of VAS: 0.606 → 0.61
    out = late(billed, [*billed, vas("l1", A, 1010)])
    # 20.20 taxes 1.212 → 1.21: the late charge adds 0.60 of tax (0.61 on its own would tax it twice over)
    [entry] = out.adjustments
    assert (entry.kind, entry.amount_minor, entry.bill_id, entry.record_id) == (AdjustmentKind.DEBIT, 1070, "bill-a", "l1")
    assert (entry.old_amount_minor, entry.new_amount_minor, entry.period) == (0, 1010, P)
    assert out.refused == ()


def test_a_charge_already_charged_or_refused_is_never_charged() -> None:
    rerated = [vas("l1", A, 500), vas("l2", A, 500, verdict="duplicate_charge"), vas("l3", B, 300)]
    first = late([], rerated)
    assert [e.record_id for e in first.adjustments] == ["l1", "l3"] and first.refused == ("spgw/l2",)
    # issued once: with the entries as prior, nothing more, even at another price
    again = late([], [vas("l1", A, 900), vas("l3", B, 300)], prior=first.adjustments)
    assert again.adjustments == ()
    # refused when rating stored it, consented now: not billed
    stored = frame([vas("l3", B, 0, verdict="no_subscription")])
    refused = late([], [vas("l3", B, 300)], stored=stored)
    assert refused.adjustments == () and refused.refused == ("spgw/l3",)
    # a subscriber without a bill of the period is left to its first bill run
    assert late([], [vas("x1", "8613800000009", 500)]).adjustments == ()
