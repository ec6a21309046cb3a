"""A refund of a VAS charge made after an owner change (过户) under the line's previous customer's subscription (gate
verdict ``previous_holder``; its finding is an unconsented charge) gives its own reason, in English as stored and in
Chinese wherever it is shown: the bill line that carries it, the subscriber's words, the console's resolution.

Before: it was refunded as "charge without a confirmed order" (未经您确认订购的扣费), as if the current customer
had simply not confirmed an order of their own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fairtel.assurance import Finding, FindingKind, refund, refund_reason, refund_reasons
from fairtel.billing import LineKind, line_text
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.reasons import refund_reason_in
from fairtel.web._i18n import resolution_text

REASON = "charge under the previous customer's subscription after the line changed owner"
AT = datetime(2026, 3, 20, tzinfo=UTC)


def _finding(verdict: str) -> Finding:
    return Finding(f"fnd-{verdict}", FindingKind.UNCONSENTED_CHARGE, "8613800000001", ("music-mar11",), "c1-music",
                   Decimal("10.00"), "CNY", AT, evidence={"verdict": verdict, "offer_id": "vas-music-10"})


def test_a_previous_holder_s_charge_is_refunded_with_a_reason_of_its_own_in_both_languages() -> None:
    found = _finding("previous_holder")
    assert refund_reason(found) == REASON and REASON in refund_reasons()
    adjustment, resolution = refund(found, by="analyst", now=AT)
    assert adjustment.reason == REASON and adjustment.amount == Decimal("10.00")
    zh = refund_reason_in(adjustment.reason, "zh")
    assert zh == "号码过户给您后仍按原机主的订购扣费" and refund_reason_in(adjustment.reason, "en") == REASON
    # the bill line that carries it, in each language
    catalog = load_catalog(default_catalog_path())
    described = f"refund: {adjustment.reason}"
    assert line_text(LineKind.ADJUSTMENT, rule_id=None, catalog=catalog, language="zh", description=described) == f"退款：{zh}"
    assert line_text(LineKind.ADJUSTMENT, rule_id=None, catalog=catalog, language="en",
                     description=described) == f"Refund: {REASON}"
    # the console's finding list, for staff
    said = resolution_text(f"refunded: {resolution.reason}", "zh")
    assert said.startswith("已退款：") and "原机主" in said and not any(c.isascii() and c.isalpha() for c in said)


def test_other_unconsented_charges_keep_their_reason() -> None:
    for verdict in ("no_subscription", "not_confirmed", "before_activation"):
        assert refund_reason(_finding(verdict)) == "charge without a confirmed order"
