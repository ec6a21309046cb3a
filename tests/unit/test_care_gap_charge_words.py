"""The assistant's words for a bill in credit and for each refused value-added charge.

A bill that leaves the line in credit was read "合计 -331.00 元" where the statement says 本期结余 331.00; every refused
charge was "没有有效的订购确认（核验结果：…）", even one charged after its cancellation or on a closed line, which had a
confirmation once."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_care_gap_dialog import ME, TZ, Records, _talk

from fairtel.care import BillFacts, BillItem, ChargeFacts, Text


def _credit_bill(issued: bool) -> BillFacts:
    items = (BillItem("plan_fee", Text("套餐月租", "Plan fee"), 3900),
             BillItem("adjustment", Text("调账/退款", "Adjustments and refunds"), -37000))
    return BillFacts(ME, "2026-09", "CNY", -33100, items, issued=issued, bill_id="bill-9" if issued else None)


@pytest.mark.parametrize("issued", [True, False])
def test_a_bill_in_credit_is_read_as_the_statement_reads_it(issued: bool) -> None:
    data = Records()
    data.bills[(ME, "2026-09")] = _credit_bill(issued)
    (zh,) = _talk(data, ["9月的账单"])
    assert "本期结余 331.00 元" in zh.text and "合计 -331.00" not in zh.text and "-331.00" not in zh.text
    (en,) = _talk(data, ["my bill for September"])
    assert "credit balance of 331.00 CNY" in en.text and "-331.00" not in en.text


def test_a_bill_owed_still_reads_its_total() -> None:
    (zh,) = _talk(Records(), ["9月的账单"])
    assert "合计 39.00 元" in zh.text and "本期结余" not in zh.text


def _charge(verdict: str, amount_minor: int) -> ChargeFacts:
    return ChargeFacts("v-9", "vas", datetime(2026, 10, 9, 9, tzinfo=TZ), amount_minor, "CNY", "offer/vas-horoscope-6",
                       offer_id="vas-horoscope-6", offer_name=Text("星座运势", "Horoscope"), subscription_id="sub-7",
                       verdict=verdict, consent_state="cancelled", confirmed_at=datetime(2026, 8, 3, tzinfo=TZ))


@pytest.mark.parametrize(("verdict", "zh", "en"), [
    ("after_cancellation", "扣费时您已退订该业务", "you had cancelled the subscription before it was charged"),
    ("line_closed", "扣费时您的号码已销户", "your line was closed when it was charged"),
    ("not_confirmed", "扣费前您没有确认这项订购", "you had not confirmed the order before the charge"),
])
@pytest.mark.parametrize("amount_minor", [0, 600])  # blocked by the gate, or charged and refused since
def test_each_refusal_is_worded_for_what_it_is(verdict: str, zh: str, en: str, amount_minor: int) -> None:
    data = Records()
    data.charge_list[(ME, "2026-10")] = [_charge(verdict, amount_minor)]
    said_zh = _talk(data, ["10月星座运势那笔扣费是什么"])[0].text
    assert zh in said_zh and "没有有效的订购确认" not in said_zh
    said_en = _talk(data, ["why was I charged for horoscope in October?"])[0].text
    assert en in said_en and "no valid confirmation" not in said_en
