"""Numbers in text and data, however people write them, are found; dates, amounts, counts and ids are not."""

from __future__ import annotations

import pytest

from fairtel.privacy import Pseudonymizer, replace_numbers, replace_numbers_in


def tag(digits: str) -> str:
    return f"<{digits}>"


@pytest.mark.parametrize(("text", "expected"), [
    ("138-0013-8000", "<13800138000>"),
    ("138 0013 8000", "<13800138000>"),
    ("138 - 0013 - 8000", "<13800138000>"),
    ("+86 138 0013 8000", "<8613800138000>"),
    ("+86-138-0013-8000.", "<8613800138000>."),
    ("１３８００１３８０００", "<13800138000>"),  # full-width digits
    ("号码13800138000", "号码<13800138000>"),
    ("call 8613800138000 or 8613900139000", "call <8613800138000> or <8613900139000>"),
    ("8613800138000 8613900139000", "<8613800138000> <8613900139000>"),
    ("138 0013 8000 139 0013 9000", "<1380013800013900139000>"),  # never left visible
])
def test_numbers_are_found_however_written(text: str, expected: str) -> None:
    assert replace_numbers(text, tag) == expected


@pytest.mark.parametrize("text", [
    "2026-10-03T20:00:00+08:00", "bill/2026-10", "from 2026-10-03 to 2026-10-31", "12 345", "amount 12345.67",
    "iccid 89860012345678901234", "r-4", "callbacks 12",
])
def test_dates_amounts_counts_and_long_ids_are_left(text: str) -> None:
    assert replace_numbers(text, tag) == text


def test_standalone_numbers_leave_digits_inside_ids() -> None:
    text = "complaint cmp_01jd1234567xyz by 138-0013-8000"
    assert replace_numbers(text, tag, standalone=True) == "complaint cmp_01jd1234567xyz by <13800138000>"


def test_numbers_in_keys_integers_and_nested_data() -> None:
    data = {"8613800138000": {"n": 3}, 8613900139000: "x", "peer": 8613700137000, "ok": True, "count": 12,
            "list": [13800138000.0, 0.93, "tel 138 0013 8000"], "fee": 1234567.5}
    assert replace_numbers_in(data, tag) == {
        "<8613800138000>": {"n": 3}, "<8613900139000>": "x", "peer": "<8613700137000>", "ok": True, "count": 12,
        "list": ["<13800138000>", 0.93, "tel <13800138000>"], "fee": 1234567.5,
    }


def test_the_digest_sorts_as_the_pseudonym_and_a_database_can_build_it() -> None:
    import hashlib

    p = Pseudonymizer("k" * 32)
    numbers = [str(8613800000000 + 7919 * k) for k in range(3000)]
    assert sorted(numbers, key=p.digest) == sorted(numbers, key=p)
    inner, outer = p.hmac_pads()
    assert all(hashlib.sha256(outer + hashlib.sha256(inner + n.encode()).digest()).digest() == p.digest(n) for n in numbers[:50])
