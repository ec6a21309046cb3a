"""The API's `why` of a VAS charge the consent gate refused says why per verdict, as the statement does: a
duplicate, a price mismatch, a suspended provider or a charge after cancellation is not "no confirmed subscription"."""

from __future__ import annotations

from typing import Any

import pytest

from fairtel.api._explain import explain_line


def _row(verdict: str, *, sub: str | None = "s1", amount: int = 0) -> dict[str, Any]:
    return {"kind": "vas", "verdict": verdict, "subscription_id": sub, "amount_minor": amount, "currency": "CNY",
            "rule_id": "offer/vas-video-15"}


@pytest.mark.parametrize(("verdict", "en", "zh"), [
    ("duplicate_charge", "Not billed: already charged for the same period (a duplicate)", "未计费：同一周期已扣过费，属于重复扣费"),
    ("price_mismatch", "Not billed: the amount differs from the price confirmed", "未计费：扣费金额与确认订购时的资费不符"),
    ("merchant_suspended", "Not billed: the provider's billing rights were suspended", "未计费：扣费时该服务商已被暂停收费"),
    ("after_cancellation", "Not billed: charged after the subscription was cancelled", "未计费：扣费时该订购已退订"),
    ("line_closed", "Not billed: the line was closed when charged", "未计费：扣费时号码已销户"),
    ("not_confirmed", "Not billed: the order was not confirmed before the charge", "未计费：扣费前订购未确认"),
])
def test_each_refusal_is_worded_for_what_it_is(verdict: str, en: str, zh: str) -> None:
    why = explain_line(_row(verdict))
    assert why["en"].startswith(en) and why["zh"].startswith(zh)
    assert "no confirmed subscription" not in why["en"] and "没有已确认的订购" not in why["zh"]


def test_no_subscription_and_an_unknown_verdict() -> None:
    none = explain_line(_row("no_subscription", sub=None))
    assert none["en"].startswith("Not billed: no confirmed subscription covers this charge")
    other = explain_line(_row("some_new_verdict"))
    assert other["en"].startswith("Not billed: the consent check did not let it through")
    assert other["zh"].startswith("未计费：未通过订购同意校验")


def test_an_offer_the_plan_includes_is_not_called_refused() -> None:
    free = explain_line(_row("consented", amount=0))
    assert free["en"].startswith("No charge:") and free["zh"].startswith("不收费：")
