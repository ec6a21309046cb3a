"""The assistant over a real home's care store (``StoreCareData``, CNY): a cap said with more decimals than the
currency has is refused in chat before a yes is asked for, in Chinese and in English, and nothing is written; a
cap said in Chinese numerals is set. Before: "100.123元" was confirmed as "100.12 元", then the yes met the store's
refusal; "一百元" was not understood."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import A, B
from test_care_gap_store_port import _classify, _port

from fairtel.care import Assistant
from fairtel.store import RoamingCap
from fairtel.store._schema import table_of

home = base.home  # the fixture: a home with three subscribers and their rated March usage


def test_a_too_precise_cap_is_refused_before_the_yes_and_a_spoken_one_is_set(home: Path) -> None:
    port = _port(home, audited=False)
    assert port.cap_currency(A) == "CNY"
    assistant = Assistant(_classify, port)
    zh = assistant.say(assistant.start(A), "把漫游上限设为100.123元")
    en = assistant.say(assistant.start(B), "set my roaming cap to 100.123 yuan")
    assert zh.waiting_for is None and "100.123" in zh.text and "CNY" in zh.text and "最多 2 位小数" in zh.text
    assert en.waiting_for is None and "100.123" in en.text and "at most 2" in en.text
    conv = assistant.start(A)
    assert assistant.say(conv, "把漫游上限设为一百元").waiting_for == "confirm"
    done = assistant.say(conv, "确认")
    assert done.action == "roaming_cap_set" and done.data == {"cap": "100.00", "currency": "CNY"}
    with port.engine.connect() as conn:
        rows = conn.execute(select(table_of(RoamingCap).c.msisdn, table_of(RoamingCap).c.amount_minor)).all()
    assert [tuple(r) for r in rows] == [(A, 10000)]
