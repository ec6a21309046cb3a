"""A subscriber asking what all the account's lines cost together ("我所有号码这个月一共多少钱") is told that the sum
given is this line's only: the conversation reads one line. Before: the one line's total was given as the answer,
with nothing saying the account's other lines were not in it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_care_gap_dialog import Records, _talk


def test_the_sum_of_one_line_is_not_passed_off_as_the_accounts() -> None:
    zh, en = _talk(Records(), ["我所有号码9月的账单一共多少钱", "how much is the September bill for all my lines?"])
    assert zh.intent == "bill_inquiry" and zh.data["total_minor"] == 3900
    assert "不含您名下其他号码" in zh.text, zh.text
    assert en.intent == "bill_inquiry" and "only, not of the account's other lines" in en.text, en.text


def test_a_question_about_the_line_itself_reads_as_before() -> None:
    (zh,) = _talk(Records(), ["我9月的账单"])
    assert zh.intent == "bill_inquiry" and "其他号码" not in zh.text


def test_a_conversation_that_reads_the_other_lines_says_nothing_of_it() -> None:
    (zh,) = _talk(Records(), ["我所有号码9月的账单一共多少钱"], other_lines=True)
    assert zh.intent == "bill_inquiry" and "不含您名下其他号码" not in zh.text
