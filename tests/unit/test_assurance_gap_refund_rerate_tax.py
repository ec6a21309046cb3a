"""The pure parts of refunds of usage past a cap under rerates and tax (money exact, minor units):

- a rerate corrects every record in full, the records a refund covered included (the refund is recomputed by charge
  assurance), and taxes its entries on what the bill charged less what the refunds took out of it;
- a refund of usage past a cap waits until a bill has charged every record of it;
- a refund taken back in part charges again the tax it gave back on that part;
- a statement words the entry that takes a refund back in part, in Chinese and in English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl

from fairtel.assurance import Finding, FindingKind, decide_refunds
from fairtel.assurance._refund_tax import BillTaxBase, ChargedRecord, RefundTaxes
from fairtel.billing import AdjustmentKind, BillingPolicy, rerate_differences
from fairtel.billing._model import decode_reason, encode_reason
from fairtel.billing._statement import line_text
from fairtel.catalog import default_catalog_path, load_catalog

CN = timezone(timedelta(hours=8))
M = "8613900000009"
P = "2026-09"
DATA_6 = BillingPolicy(tax_rates={"data": Decimal("0.06")})


def _lines(amounts: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "record_id": f"r{i}",
                "source": "pgw",
                "line": 0,
                "msisdn": M,
                "period": P,
                "started_at": datetime(2026, 9, 10 + i, tzinfo=UTC),
                "kind": "data",
                "plan_id": "basic-39",
                "rule_id": "roam/data-roam-3",
                "quantity": 100,
                "unit": "MiB",
                "amount_minor": amount,
                "currency": "CNY",
            }
            for i, amount in enumerate(amounts)
        ]
    )


def _past_cap(records: tuple[str, ...], amount: str) -> Finding:
    return Finding(
        "fnd_cap",
        FindingKind.USAGE_PAST_CAP,
        M,
        records,
        None,
        Decimal(amount),
        "CNY",
        datetime(2026, 9, 30, tzinfo=CN),
        {"policy": "eu_data_roaming", "period": P},
    )


def test_a_rerate_corrects_refunded_records_in_full_and_taxes_on_what_the_refunds_left() -> None:
    old, new = _lines([6000] * 5), _lines([5000] * 5)
    group = tuple((M, "", f"r{i}") for i in (2, 3, 4))
    result = rerate_differences(
        old,
        new,
        period=P,
        bills={M: "bill_1"},
        currency="CNY",
        created_at=datetime(2026, 10, 2, 9, tzinfo=CN),
        policy=DATA_6,
        refunded={group: 2500},
    )
    # the bill taxed 300.00; the refund took 25.00 out: each 10.00 credit lowers the tax on 275.00 by 0.60
    assert {a.record_id: (a.kind, a.amount_minor) for a in result.adjustments} == {
        f"r{i}": (AdjustmentKind.CREDIT, 1060) for i in range(5)
    }
    assert result.net_minor == -5300 and result.refunded == ("pgw/r2", "pgw/r3", "pgw/r4")  # due to be recomputed
    assert [(a.old_amount_minor, a.new_amount_minor) for a in result.adjustments] == [(6000, 5000)] * 5


def test_usage_past_a_cap_is_refunded_once_a_bill_charged_every_record_of_it() -> None:
    f = _past_cap(("r3", "r4"), "75.00")
    one = {(M, "", "r3"), (M, "pgw", "r3")}
    waiting = decide_refunds([f], billed_records=one, refused_records=set(), now=datetime(2026, 10, 1, tzinfo=CN))
    assert waiting.refunds == [] and waiting.pending == [f]
    both = one | {(M, "", "r4"), (M, "pgw", "r4")}
    done = decide_refunds([f], billed_records=both, refused_records=set(), now=datetime(2026, 10, 1, tzinfo=CN))
    assert [a.amount for a in done.refunds] == [Decimal("75.00")]


def test_a_refund_taken_back_in_part_charges_again_the_tax_it_gave_back_on_it() -> None:
    f = _past_cap(tuple(f"r{i}" for i in range(5)), "260.00")
    taxes = RefundTaxes(
        records={f.finding_id: [ChargedRecord(f"r{i}", "bill_1", "data", 6000) for i in range(5)]},
        bills={"bill_1": BillTaxBase(DATA_6, {"data": 55000})},
    )
    assert taxes.take(f, 26000) == 1560  # tax on 550.00 (33.00) less tax on 290.00 (17.40)
    assert taxes.give(f, 11000) == 660  # tax on 400.00 (24.00) less tax on 290.00
    assert taxes.bills["bill_1"].base == {"data": 40000}
    taxes.given_before([(f, 1000)])
    assert taxes.bills["bill_1"].base == {"data": 41000}


def test_a_statement_words_a_refund_taken_back_in_part() -> None:
    reason = encode_reason("refund-recomputed", "CNY", period=P, old="260.00", new="150.00")
    assert decode_reason(reason) == (
        "refund-recomputed",
        {"period": P, "old": "260.00", "new": "150.00", "currency": "CNY"},
    )
    catalog = load_catalog(default_catalog_path())
    zh = line_text("adjustment", rule_id=None, catalog=catalog, language="zh", description=f"debit: {reason}")
    en = line_text("adjustment", rule_id=None, catalog=catalog, language="en", description=f"debit: {reason}")
    assert zh == "补收：2026-09 超出封顶部分的退款按重新计费后的费用重算：已退 260.00 → 应退 150.00 元"
    assert (
        en
        == "Debit: refund of usage past the cap 2026-09 recomputed on the rerated charges: 260.00 refunded → 150.00 CNY due"
    )
