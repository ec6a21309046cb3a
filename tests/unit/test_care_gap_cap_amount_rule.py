"""A roaming cap said in chat is read into plain digits by the assistant ("一百元", "１００元", "1万元", "1,000 yuan"),
then held to the rule ``PUT /me/roaming-cap`` reads a typed amount by (``core.money.amount_pattern``: ASCII digits,
at most the currency's decimals) and to the one cap limit (``core.money.ROAMING_CAP_MAX``), never rounded.

Before: "1,000 yuan" set the cap to 0 and "1万元" to 1; "一百元" and a bare "100." were not understood; "-100元"
set 100; "100.123元" was confirmed as "100.12" and set as 100.123, which the API refuses in CNY; "100.5 yen" was
confirmed for a JPY line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from tests.unit.test_care_gap_dialog import ME, CapRecords, _talk

from fairtel.api._money import amount_pattern
from fairtel.core.money import MINOR_UNITS, minor_units

LIMIT = Decimal(100000)  # the cap limit, as PUT /me/roaming-cap states it


@dataclass
class CurrencyCapRecords(CapRecords):
    """The records, on a line whose caps are set in ``currency`` (as the care store's, the operator's)."""

    currency: str = "CNY"

    def cap_currency(self, msisdn: str) -> str:
        return self.currency


@pytest.mark.parametrize(("messages", "amount"), [
    (["帮我设置漫游上限一百元", "确认"], "100"),
    (["帮我设置漫游上限", "一百元", "确认"], "100"),
    (["把漫游上限设为两千五百块", "确认"], "2500"),
    (["帮我把漫游上限设为1万元", "确认"], "10000"),
    (["帮我设置漫游上限为１００元", "确认"], "100"),
    (["帮我设置漫游上限", "１００", "确认"], "100"),
    (["set my roaming cap to 1,000 yuan", "yes"], "1000"),
    (["set my roaming cap to ¥100.5", "yes"], "100.5"),
    (["set my roaming cap", "100.", "yes"], "100"),
    (["set my roaming cap", "100000", "yes"], "100000"),
])
def test_a_cap_said_naturally_is_set_as_said(messages: list[str], amount: str) -> None:
    data = CurrencyCapRecords()
    *_, done = _talk(data, messages)
    assert done.action == "roaming_cap_set" and data.caps == [(ME, Decimal(amount))]
    (_, cap), = data.caps
    assert cap is not None and re.fullmatch(amount_pattern(minor_units("CNY")), f"{cap:f}") and cap <= LIMIT


@pytest.mark.parametrize(("message", "lang", "words"), [
    ("帮我设置漫游上限100.123元", "zh", "100.123"),
    ("set my roaming cap to 100.123 yuan", "en", "100.123"),
])
def test_a_cap_more_precise_than_its_currency_is_refused_not_rounded(message: str, lang: str, words: str) -> None:
    data = CurrencyCapRecords()
    reply, after = _talk(data, [message, "确认" if lang == "zh" else "yes"])
    assert reply.waiting_for is None and reply.language == lang and words in reply.text and "100.12 " not in reply.text
    assert ("小数" in reply.text) if lang == "zh" else ("decimals" in reply.text)
    assert after.action != "roaming_cap_set" and data.caps == []


@pytest.mark.parametrize("message", ["把漫游上限设为100.5日元", "set my roaming cap to 100.5 yen"])
def test_a_cap_with_decimals_is_refused_in_a_currency_without_them(message: str) -> None:
    data = CurrencyCapRecords(currency="JPY")
    (reply,) = _talk(data, [message])
    assert reply.waiting_for is None and data.caps == [] and "JPY" in reply.text


def test_a_currency_not_known_allows_the_widest_decimals_as_the_api_does() -> None:
    data = CapRecords()  # a port that does not say the cap's currency
    (reply,) = _talk(data, ["set my roaming cap to 1.2345 yuan"])
    assert reply.waiting_for is None and data.caps == [] and "1.2345" in reply.text
    assert max(MINOR_UNITS.values()) == 3  # "1.234" would be asked to confirm, as the API reads it then


@pytest.mark.parametrize("messages", [
    ["把漫游上限设为-100元", "确认"], ["set my roaming cap to -100 yuan", "yes"],
    ["把漫游上限设为十万零一元", "确认"], ["set my roaming cap to 100,000.01 yuan", "yes"],
    ["帮我设置漫游上限", "1000000", "确认"],
])
def test_a_cap_below_zero_or_past_the_limit_is_refused(messages: list[str]) -> None:
    data = CurrencyCapRecords()
    replies = _talk(data, messages)
    assert data.caps == [] and any(str(LIMIT) in r.text for r in replies)


def test_the_rule_and_the_limit_have_one_source() -> None:
    from fairtel.care import _dialog
    from fairtel.core import money
    from fairtel.store import _care

    for decimals in (0, 2, 3):
        assert money.amount_pattern(decimals) == amount_pattern(decimals)
    assert money.ROAMING_CAP_MAX == LIMIT
    assert not hasattr(_dialog, "CAP_MAX") and not hasattr(_care, "CAP_MAX")  # no copy of it beside the one
