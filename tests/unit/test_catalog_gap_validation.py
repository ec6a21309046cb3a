"""Catalog values that validation used to accept and rating would then price wrongly, or not at all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fairtel.catalog import parse_catalog, plan_for_subject, price_steps

BASE = """
[operator]
id = "t"
name = { zh = "测试", en = "Test" }
currency = "CNY"
timezone = "Asia/Shanghai"

[[zones]]
id = "domestic"
name = { zh = "国内", en = "Domestic" }
prefixes = ["86"]

[[rates]]
id = "voice"
unit = "second"
steps = [{ rate = "0.15", rate_unit = "60s", increment = "60s" }]

[[plans]]
id = "p"
name = { zh = "套餐", en = "Plan" }
monthly_fee = "10.00"

[[plans.rules]]
id = "p/voice"
kind = "voice"
rate = "voice"

[[plans]]
id = "q"
name = { zh = "套餐二", en = "Plan two" }
monthly_fee = "20.00"

[[plans.rules]]
id = "q/voice"
kind = "voice"
rate = "voice"
"""


def problems(text: str) -> list[tuple[int | None, str | None, str]]:
    catalog, found = parse_catalog(text, file="c.toml")
    assert (catalog is None) == bool(found)
    return [(p.line, p.field, p.code) for p in found]


def test_the_base_catalog_is_valid() -> None:
    assert problems(BASE) == []


def test_a_prefix_or_id_with_a_trailing_newline_is_refused() -> None:
    # "86\n" matched `^...$` and became a prefix no number can ever match
    assert problems(BASE.replace('prefixes = ["86"]', 'prefixes = ["86\\n"]')) == [(11, "zones[0].prefixes[0]", "bad_prefix")]
    assert problems(BASE.replace('id = "domestic"', 'id = "domestic\\n"')) == [(9, "zones[0].id", "bad_id")]


def test_a_band_time_with_a_trailing_newline_is_refused() -> None:
    bands = '[[bands]]\nid = "all-week"\nwindows = [{ days = ["all"], start = "00:00\\n", end = "24:00" }]\n\n[[rates]]'
    got = problems(BASE.replace("[[rates]]", bands, 1))
    assert (15, "bands[0].windows[0].start", "bad_time") in got


def test_increment_decimals_too_fine_to_compute_are_refused() -> None:
    # 40 decimals passed validation and then raised decimal.InvalidOperation in price_steps
    text = BASE.replace('unit = "second"', 'unit = "second"\nincrement_decimals = 40')
    assert problems(text) == [(16, "rates[0].increment_decimals", "invalid_value")]
    fine = BASE.replace('unit = "second"', 'unit = "second"\nincrement_decimals = 10')
    catalog, found = parse_catalog(fine)
    assert catalog is not None, found
    assert str(price_steps(catalog.rate("voice"), 130)) == "0.45"


def test_a_max_cost_finer_than_the_rates_rounding_is_refused() -> None:
    # price_steps answered 0.125 for a capped call while the rated line could only hold 0.12 or 0.13
    text = BASE.replace('unit = "second"', 'unit = "second"\nmax_cost = "0.125"')
    assert problems(text) == [(16, "rates[0].max_cost", "too_precise")]
    finer = BASE.replace('unit = "second"', 'unit = "second"\nrounding_decimals = 3\nmax_cost = "0.125"').replace(
        'currency = "CNY"', 'currency = "CNY"\namount_decimals = 3')
    catalog, found = parse_catalog(finer)
    assert catalog is not None, found
    assert price_steps(catalog.rate("voice"), 600) == catalog.rate("voice").max_cost


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules", "posix/Asia/Shanghai", "right/UTC"])
def test_time_zones_rating_cannot_use_are_refused(zone: str) -> None:
    assert problems(BASE.replace("Asia/Shanghai", zone)) == [(6, "operator.timezone", "bad_timezone")]


SECOND_SUBJECT = 44  # the line of the second entry's subject


def test_a_subject_mapped_twice_for_one_kind_at_one_time_is_refused() -> None:
    both = BASE + """
[[subjects]]
subject = "8613800000001"
plan = "p"
kinds = ["voice", "sms"]

[[subjects]]
subject = "8613800000001"
plan = "q"
kinds = ["voice"]
"""
    assert both.splitlines()[SECOND_SUBJECT - 2:SECOND_SUBJECT] == ["[[subjects]]", 'subject = "8613800000001"']
    # which plan prices the subject's calls depended on the order of the file
    assert problems(both) == [(SECOND_SUBJECT, "subjects[1].subject", "duplicate_id")]
    every_kind = both.replace('kinds = ["voice"]\n', "")
    assert problems(every_kind) == [(SECOND_SUBJECT, "subjects[1].subject", "duplicate_id")]
    apart = both.replace('kinds = ["voice"]\n', 'kinds = ["data"]\n')
    catalog, found = parse_catalog(apart)
    assert catalog is not None, found
    at = datetime(2026, 3, 3, tzinfo=UTC)
    assert plan_for_subject(catalog, "8613800000001", kind="voice", at=at) == "p"
    assert plan_for_subject(catalog, "8613800000001", kind="data", at=at) == "q"
