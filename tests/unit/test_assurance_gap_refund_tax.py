"""A refund gives back the tax its bill charged on the charge, reckoned as the bill taxed it (once per kind, on the
kind's total): refunds of one bill take their shares in turn and give back exactly the bill's tax; the part of a
finding no bill of fairtel's charged gives none; the refund's id does not depend on the tax; the SMS says it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fairtel.assurance import (
    BillTaxBase,
    ChargedRecord,
    Finding,
    FindingKind,
    RefundTaxes,
    charged_parts,
    refund,
    refund_messages,
    take_back,
)
from fairtel.billing import BillingPolicy

NOW = datetime(2026, 4, 2, tzinfo=UTC)
VAT = BillingPolicy(tax_rates={"vas": Decimal("0.065"), "data": Decimal("0.06"), "voice": Decimal("0.09")})


def _finding(fid: str, amount: str, kind: FindingKind = FindingKind.CHARGE_AFTER_CANCELLATION, records: tuple[str, ...] = ("r1",)) -> Finding:
    return Finding(finding_id=fid, kind=kind, msisdn="8613800000001", record_ids=records, subscription_id="s1", amount=Decimal(amount),
                   currency="CNY", detected_at=NOW, evidence={"source": "spgw"})


def test_refunds_of_one_bill_give_back_exactly_its_tax_in_turn() -> None:
    # the bill charged 5.00 and 3.00 of VAS and 0.52 tax on them (each alone would be taxed 0.33 and 0.20)
    bills = {"b1": BillTaxBase(VAT, {"vas": 800})}
    first = take_back({("b1", "vas"): 500}, bills)
    second = take_back({("b1", "vas"): 300}, bills)
    assert (first, second) == (32, 20) and first + second == VAT.tax_on("vas", 800) == 52
    assert bills["b1"].base["vas"] == 0
    assert take_back({("b9", "vas"): 500}, bills) == 0  # a bill not ours: no tax to give back


def test_the_amount_is_taken_from_the_last_record_back() -> None:
    """Usage past a cap: the first record (the one crossing the cap) is charged only in part past it."""
    records = [ChargedRecord("d1", "b1", "data", 400), ChargedRecord("v2", "b1", "voice", 300), ChargedRecord("d3", "b1", "data", 200)]
    assert charged_parts(650, records) == {("b1", "data"): 350, ("b1", "voice"): 300}
    # a price mismatch: the over-charge of its one record
    assert charged_parts(100, [ChargedRecord("r1", "b1", "vas", 1200)]) == {("b1", "vas"): 100}
    # more than the bills charged: the rest was charged by none of fairtel's bills
    assert charged_parts(900, [ChargedRecord("r1", "b1", "vas", 500)]) == {("b1", "vas"): 500}
    assert charged_parts(500, []) == {}


def test_refund_taxes_peek_leaves_the_bases_and_take_takes() -> None:
    f = _finding("f1", "5.00")
    taxes = RefundTaxes(records={"f1": [ChargedRecord("r1", "b1", "vas", 500)]}, bills={"b1": BillTaxBase(VAT, {"vas": 800})})
    assert taxes.peek(f, 500) == 32 and taxes.bills["b1"].base == {"vas": 800}
    assert taxes.take(f, 500) == 32 and taxes.bills["b1"].base == {"vas": 300}
    unbilled = _finding("f2", "3.00")
    assert taxes.take(unbilled, 300) == 0  # no bill of fairtel's charged it: its bill run will tax it


def test_the_refund_id_does_not_depend_on_the_tax() -> None:
    f = _finding("f1", "30.00")
    plain, _ = refund(f, by="assure", now=NOW)
    taxed, _ = refund(f, by="assure", now=NOW, tax=Decimal("1.80"))
    assert taxed.adjustment_id == plain.adjustment_id
    assert (taxed.amount, taxed.tax, taxed.charge) == (Decimal("31.80"), Decimal("1.80"), Decimal("30.00"))
    assert plain.with_tax(Decimal("1.80")) == taxed


def test_the_refund_sms_says_the_tax_it_gives_back() -> None:
    adj, _ = refund(_finding("f1", "30.00"), by="assure", now=NOW, tax=Decimal("1.80"))
    zh, en = (refund_messages([adj], languages={adj.msisdn: lang}, sender="Op", now=NOW)[0].text for lang in ("zh", "en"))
    assert "已为您退还31.80元（退订后的扣费，含税费1.80元）" in zh
    assert "we have refunded 31.80 CNY (charge after the subscription ended, tax of 1.80 CNY included)" in en
    untaxed, _ = refund(_finding("f2", "30.00"), by="assure", now=NOW)
    assert "已为您退还30.00元（退订后的扣费），" in refund_messages([untaxed], now=NOW, sender="Op")[0].text
