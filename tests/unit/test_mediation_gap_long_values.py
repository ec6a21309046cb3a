"""A problem message quotes an over-long value by its start and says how long it was: a 5000-digit msisdn in a
subscriber, consent or survey file is not echoed whole into the message.

Before: the whole value was quoted."""

from __future__ import annotations

from fairtel.privacy._numbers import msisdn_problem


def test_a_long_msisdn_is_quoted_cut_with_its_length() -> None:
    why = msisdn_problem("8" * 5000)
    assert why is not None
    assert "5000 digits, more than 15" in why
    assert "(5000 characters)" in why
    assert len(why) < 200


def test_a_short_value_is_still_quoted_whole() -> None:
    assert msisdn_problem("86138abc") == "not an E.164 number (holds characters other than the digits 0-9): '86138abc'"
    long_text = "x" * 40
    why = msisdn_problem(long_text)
    assert why is not None and why.endswith("... (40 characters)") and "x" * 33 not in why
