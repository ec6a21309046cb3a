"""Masked numbers (``mask_msisdn``): what agents see before handling a customer, and statements show of the other
party. The middle is always hidden, 4 characters at the least, and no character is shown twice or out of place:
a 9-character number was shown whole, an 8-character one as another number (``35212345`` as ``352122345``), and
a 10-character one hid a single digit."""

from __future__ import annotations

import pytest

from fairtel.privacy import mask_msisdn

DISTINCT = "0123456789ABCDEFGHIJ"  # every character once: a character shown twice, or out of place, is seen


@pytest.mark.parametrize("n", range(1, 21))
def test_every_length_hides_a_middle_part_and_shows_each_character_once_where_it_stands(n: int) -> None:
    for number in (DISTINCT[:n], ("8613812345678901234567")[:n]):
        masked = mask_msisdn(number)
        assert len(masked) == n, (number, masked)
        assert all(m in ("*", c) for m, c in zip(masked, number, strict=True)), (number, masked)
        hidden = masked.count("*")
        if n <= 7:  # a short code or an extension: hidden whole
            assert masked == "*" * n
            continue
        assert hidden >= 4 and masked != number
        # one run of stars, with at most 5 characters shown before it and exactly the last 4 after it
        head = masked.index("*")
        assert masked[head:head + hidden] == "*" * hidden and head <= 5
        assert masked[head + hidden:] == number[-4:]
        if n >= 13:
            assert head == 5 and hidden == n - 9
    shown = [c for c in mask_msisdn(DISTINCT[:n]) if c != "*"]
    assert len(shown) == len(set(shown)) and set(shown) <= set(DISTINCT[:n])


def test_the_numbers_that_were_shown_wrong() -> None:
    assert mask_msisdn("468123456") == "4****3456"  # was shown whole
    assert mask_msisdn("35212345") == "****2345"  # was shown as 352122345, another number
    assert mask_msisdn("1381234567") == "13****4567"  # hid one digit
    assert mask_msisdn("13800138000") == "138****8000"  # hid two
    assert mask_msisdn("85261234567") == "852****4567"
    # a mobile number with its country code reads as it always did
    assert mask_msisdn("8613812345678") == "86138****5678"
    assert mask_msisdn("10086") == "*****" and mask_msisdn("8001") == "****" and mask_msisdn("") == ""
