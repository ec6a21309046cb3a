"""Amounts a subscriber names in a question about a charge are read in the bill's currency and its decimals: in a
home billing in yen (no decimals), "6.50元" is no amount of any bill, and the assistant says so in the subscriber's
language instead of failing; "32.00" is 32 yen and names the 32-yen charge; "500円" and "1.250 KWD" are read at all.

Before: "我9月的账单里为什么扣了6.50元？" in a JPY home raised ``ValueError: 7 JPY has more precision than JPY minor
units`` (a 500 through ``POST /chat``), and only 元/块/yuan/CNY amounts with at most 2 decimals were understood."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_chat import ME, TZ, MemoryData

from fairtel.care import Assistant, BillFacts, BillItem, ChargeFacts, IntentPrediction, Text, detect_language


def _classify(text: str) -> IntentPrediction:
    return IntentPrediction("charge_explain", 0.99, detect_language(text), False)


def _home(currency: str, charges: list[tuple[str, int]]) -> MemoryData:
    """A month billed in ``currency``: its plan fee, and a call of each (record id, minor units)."""
    d = MemoryData()
    calls = [ChargeFacts(rid, "voice", datetime(2026, 9, 7 + n, 9, tzinfo=TZ), minor, currency, "basic/voice-domestic")
             for n, (rid, minor) in enumerate(charges)]
    d.charge_list[(ME, "2026-09")] = calls
    fee = 3900
    d.bills[(ME, "2026-09")] = BillFacts(ME, "2026-09", currency, fee + sum(c.amount_minor for c in calls), (
        BillItem("plan_fee", Text("套餐月租", "Plan fee"), fee),
        BillItem("voice", Text("通话", "Calls"), sum(c.amount_minor for c in calls)),
    ), issued=True, bill_id="bill-09")
    return d


@pytest.mark.parametrize(("question", "said"), [
    ("我9月的账单里为什么扣了6.50元？", "您的账单以 JPY 计价，JPY 金额没有小数，2026-09 没有 6.50 的收费。"),
    ("Why was I charged 6.50 yuan in September?", "Your bills are in JPY, which has no decimals: there is no charge of 6.50 in 2026-09."),
])
def test_an_amount_finer_than_the_currency_is_answered_not_a_crash(question: str, said: str) -> None:
    bot = Assistant(_classify, _home("JPY", [("r-1", 32), ("r-2", 7)]))
    reply = bot.say(bot.start(ME), question)
    assert reply.intent == "charge_explain" and reply.text.startswith(said), reply.text
    # never rounded to a charge that is (6.50 is not the 7-yen call): the month's charges are offered instead
    assert reply.waiting_for == "charge" and "32 JPY" in reply.text and "7 JPY" in reply.text
    # an amount written with zero decimals the currency does not have is the amount it is: 32.00 is the 32-yen call
    assert bot.say(bot.start(ME), question.replace("6.50", "32.00")).data.get("record_id") == "r-1"


def test_an_amount_finer_than_the_currency_on_a_month_with_only_its_fee() -> None:
    bot = Assistant(_classify, _home("JPY", []))
    reply = bot.say(bot.start(ME), "我9月的账单里为什么扣了6.50元？")
    assert reply.text.startswith("您的账单以 JPY 计价，JPY 金额没有小数，2026-09 没有 6.50 的收费。"), reply.text
    assert "3900 JPY" in reply.text  # the month's bill explained after it


@pytest.mark.parametrize(("question", "record"), [
    ("9月为什么扣了我500円", "r-2"),
    ("why was I charged JPY 500 in September", "r-2"),
])
def test_an_amount_the_currency_can_hold_names_its_charge(question: str, record: str) -> None:
    bot = Assistant(_classify, _home("JPY", [("r-1", 32), ("r-2", 500)]))
    reply = bot.say(bot.start(ME), question)
    assert reply.data.get("record_id") == record, reply.text


def test_three_decimal_currencies_are_read_and_checked() -> None:
    bot = Assistant(_classify, _home("KWD", [("r-1", 1250), ("r-2", 300)]))
    assert bot.say(bot.start(ME), "why was I charged 1.250 KWD in September").data.get("record_id") == "r-1"
    cny = Assistant(_classify, _home("CNY", [("r-1", 650), ("r-2", 300)]))
    reply = cny.say(cny.start(ME), "9月为什么扣了6.505元")
    assert reply.text.startswith("您的账单以 CNY 计价，CNY 金额最多 2 位小数，2026-09 没有 6.505 的收费。"), reply.text
