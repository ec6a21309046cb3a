"""A correction issued for a record since its bill is money the next bill carries (a credit it deducts, a debit it
adds), and ``fairtel explain`` (and every reader of ``correction_words``: the API's "why this charge", the
assistant) says so: "将在下期账单中抵扣 0.10 元" / "0.10 CNY credited on your next bill", never "已退还 0.10 元" /
"0.10 CNY credited", which read as money already given back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from fairtel.care._answers import say
from fairtel.core.money import Money
from fairtel.rating._explain import Correction, Explanation, correction_words

CN = timezone(timedelta(hours=8))
AT = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def _explanation(*corrections: Correction, held: bool = False) -> Explanation:
    return Explanation(
        record_id="w1",
        source="sw",
        msisdn="8613800000001",
        kind="voice",
        period="2026-10",
        started_at=datetime(2026, 10, 3, 12, 0, tzinfo=CN),
        plan_id="RP_1001",
        plan_name=None,
        currency="CNY",
        total_minor=72,
        lines=(),
        corrections=corrections,
    )


def test_a_rerate_credit_is_deducted_on_the_next_bill() -> None:
    e = _explanation(Correction("adj1", -10, AT, 72, 62))
    zh, en = e.render("zh"), e.render("en")
    assert "更正：2026-11-27 资费调整后重新计费，本话单由 0.72 元改为 0.62 元，将在下期账单中抵扣 0.10 元" in zh
    assert "已退还" not in zh and zh.rstrip().endswith("更正后本话单计：0.62 元")
    assert "0.72 CNY → 0.62 CNY; 0.10 CNY credited on your next bill" in en


def test_a_debit_and_a_late_charge_are_charged_on_the_next_bill() -> None:
    up = _explanation(Correction("adj2", 12, AT, 60, 70))
    assert "将在下期账单中补收 0.12 元（含税）" in up.render("zh") and "已补收" not in up.render("zh")
    assert "0.12 CNY charged on your next bill (tax included)" in up.render("en")
    late = _explanation(Correction("adj3", 50, AT))
    assert "补收：2026-11-27 本话单在出账后计费，将作为调整项在下期账单中收取 0.50 元" in late.render("zh")
    assert "Charged after the bill on 2026-11-27: 0.50 CNY, on your next bill" in late.render("en")
    credit = Correction("adj4", -30, AT)
    assert correction_words(credit, "CNY", "zh", CN) == "调整：2026-11-27 将在下期账单中抵扣 0.30 元"
    assert correction_words(credit, "CNY", "en", CN) == "Adjustment on 2026-11-27: 0.30 CNY credited on your next bill"


def test_the_assistant_words_a_charge_without_gaps_or_a_plural_adjective() -> None:
    zh = say("charge_usage", "zh", when="2026-10-03", what="通话", amount="0.72 元", rule="RT_20CNT")
    en = say(
        "charge_usage", "en", when="2026-10-08", what="calls", amount=f"{Money.of('0.61', 'CNY').amount} CNY", rule="R"
    )
    assert zh.startswith("2026-10-03 的这笔通话费用 0.72 元") and "这笔 通话 费用" not in zh
    assert en.startswith("The charge of 0.61 CNY for calls on 2026-10-08") and "The calls charge" not in en
