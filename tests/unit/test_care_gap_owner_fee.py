"""The plan fee of the month a line moved to its current customer (an owner change, 过户): billing charges them from
the day of the change, and the assistant explains it so, from the holding's start, naming the change and nothing of
the previous customer's. The port counts the days in service from the change, as the store's does (``billing.fee_days``:
tests/integration/test_care_gap_owner_fee_store.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tests.unit.test_care_gap_data_answers import _LABELS, ME, TZ, Port, _talk

from fairtel.care import BillFacts, BillItem, LineFacts, PlanFeeFacts, Text
from fairtel.core.money import Money

_LABELS.setdefault("9月的月租为什么不是39元？", ("charge_explain", 0.99))
_LABELS.setdefault("Why is my September monthly fee 36.40 and not 39?", ("charge_explain", 1.0))

ACTIVATED = datetime(2025, 3, 14, 9, tzinfo=TZ)
CHANGED = datetime(2026, 9, 3, 10, tzinfo=TZ)
BASIC = Text("基础套餐 39 元", "Basic 39")
SEPT = BillFacts(ME, "2026-09", "CNY", 3640, (BillItem("plan_fee", Text("套餐月费 · 基础套餐 39 元", "Monthly fee · Basic 39"),
                                                      3640),), issued=True, bill_id="bill-0930")


@dataclass
class TransferredPort(Port):
    """A line activated long ago, moved to the current customer on 2026-09-03; the fee's days from the change."""

    holder_since: datetime | None = CHANGED
    activated_at: datetime | None = ACTIVATED

    def line(self, msisdn: str) -> LineFacts | None:
        return LineFacts(msisdn, "c-new", "basic-39", BASIC, "active", self.language, (msisdn,),
                         activated_at=self.activated_at, holder_since=self.holder_since) if msisdn == ME else None

    def plan_fee(self, msisdn: str, period: str) -> PlanFeeFacts | None:
        if period != "2026-09":
            return None
        return PlanFeeFacts(period, "basic-39", BASIC, Money.of("39.00", "CNY"), Money.of("36.40", "CNY"), 28, 30)


def _port(**kw: object) -> TransferredPort:
    return TransferredPort(bills={"2026-09": SEPT}, monthly={"2026-09": []}, **kw)  # type: ignore[arg-type]


def test_the_fee_of_the_month_of_an_owner_change_is_told_from_the_change_in_chinese() -> None:
    (fee,) = _talk(_port(), ["9月的月租为什么不是39元？"])
    assert "36.40 元是套餐月费" in fee.text
    assert "2026-09-03 过户到您名下" in fee.text and "28 天（共 30 天）" in fee.text and "折算" in fee.text
    assert "按整月收取" not in fee.text and "在网 30 天" not in fee.text
    assert "2025-03-14" not in fee.text  # the activation is the previous customer's
    assert fee.data["days"] == 28 and fee.data["holder_since"] == "2026-09-03"


def test_the_fee_of_the_month_of_an_owner_change_is_told_from_the_change_in_english() -> None:
    port = _port()
    port.language = "en"
    (fee,) = _talk(port, ["Why is my September monthly fee 36.40 and not 39?"])
    assert "moved to you on 2026-09-03" in fee.text and "28 of the month's 30 days" in fee.text
    assert "whole fee" not in fee.text and "all 30 days" not in fee.text


def test_without_an_owner_change_in_the_month_the_fee_is_told_as_before() -> None:
    whole = BillFacts(ME, "2026-09", "CNY", 3900, (BillItem("plan_fee", Text("套餐月费", "Monthly fee"), 3900),),
                      issued=True, bill_id="b")
    port = TransferredPort(bills={"2026-09": whole}, monthly={"2026-09": []}, holder_since=None)
    port.plan_fee = lambda msisdn, period: PlanFeeFacts(  # type: ignore[method-assign]
        period, "basic-39", BASIC, Money.of("39.00", "CNY"), Money.of("39.00", "CNY"), 30, 30)
    (fee,) = _talk(port, ["9月的月租为什么不是39元？"])
    assert "在网 30 天，按整月收取" in fee.text and "过户" not in fee.text


def test_the_month_of_the_change_is_billing_s() -> None:
    from fairtel.care._holding import changed_hands_in

    facts = _port().line(ME)
    assert changed_hands_in(facts, "2026-09", "Asia/Shanghai") == CHANGED
    # the month after the change, and a change at the activation, are whole months of the holding
    assert changed_hands_in(facts, "2026-10", "Asia/Shanghai") is None
    at_activation = LineFacts(ME, "c", "basic-39", BASIC, "active", "zh", activated_at=CHANGED, holder_since=CHANGED)
    assert changed_hands_in(at_activation, "2026-09", "Asia/Shanghai") is None
