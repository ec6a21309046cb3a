"""Lookups rating relies on: zones by longest prefix, roaming zones, time bands, first-match rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairtel.catalog import Catalog, default_catalog_path, load_catalog, parse_catalog
from fairtel.core.errors import NotFoundError
from fairtel.core.time import NaiveTimeError

SH = ZoneInfo("Asia/Shanghai")


@cache
def demo_catalog() -> Catalog:
    return load_catalog(default_catalog_path())


@cache
def night_catalog() -> Catalog:
    catalog, problems = parse_catalog(NIGHT)
    assert problems == [] and catalog is not None
    return catalog


@pytest.fixture
def demo() -> Catalog:
    return demo_catalog()


@pytest.fixture
def night() -> Catalog:
    return night_catalog()


NIGHT = """
[operator]
id = "t"
name = { zh = "测试", en = "Test" }
currency = "EUR"
timezone = "Europe/Berlin"

[[zones]]
id = "home"
name = { zh = "本地", en = "Home" }
prefixes = ["49"]

[[zones]]
id = "mobile"
name = { zh = "手机", en = "Mobile" }
prefixes = ["4915", "4916", "4917"]

[[zones]]
id = "premium"
name = { zh = "高资费", en = "Premium" }
prefixes = ["49900", "491609"]

[[bands]]
id = "night"
windows = [{ days = ["all"], start = "22:00", end = "06:00" }]

[[bands]]
id = "day"
windows = [{ days = ["mon-sun"], start = "06:00", end = "22:00" }]

[[rates]]
id = "r"
unit = "second"
steps = [{ rate = "0.10", rate_unit = "60s" }]

[[plans]]
id = "p"
name = { zh = "套餐", en = "Plan" }
monthly_fee = "0"

[[plans.rules]]
id = "p/night"
kind = "voice"
bands = ["night"]
free = true

[[plans.rules]]
id = "p/any"
kind = "voice"
rate = "r"
"""


def test_longest_prefix_wins(demo: Catalog, night: Catalog) -> None:
    assert demo.zone_for("8613800138000").id == "domestic"
    assert demo.zone_for("+85291234567").id == "intl-1"
    assert demo.zone_for("23912345678").id == "intl-3"  # São Tomé
    assert demo.zone_for("23931234567").id == "intl-premium"  # its premium range
    assert demo.zone_for("0044 20 7946 0000").id == "intl-2"
    assert demo.zone_for("99912345").id == "intl-other"  # nothing matches: the fallback
    assert night.zone_for("4930123456").id == "home"
    assert night.zone_for("4915112345").id == "mobile"
    assert night.zone_for("491609123").id == "premium"
    assert night.zone_for("491608123").id == "mobile"
    with pytest.raises(NotFoundError):
        night.zone_for("3312345")  # no fallback zone in this catalog


def test_demo_zones_follow_the_shared_examples(demo: Catalog) -> None:
    examples = {
        "intl-1": ["852", "853", "886"], "intl-2": ["1", "44", "49", "33", "81", "82", "65", "61"],
        "intl-premium": ["882", "883", "881", "979", "2393", "2392", "2313", "3712", "5392", "6753"],
        "intl-3": ["7", "20", "27", "34", "39", "55", "91", "234", "254", "971"],
    }
    for zone, codes in examples.items():
        assert {demo.zone_for(code + "12345678").id for code in codes} == {zone}


def test_prefix_table_is_longest_first(night: Catalog) -> None:
    rows = night.prefix_table()
    assert rows[0] == ("491609", "premium")
    assert [len(p) for p, _ in rows] == sorted((len(p) for p, _ in rows), reverse=True)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.from_regex(r"[1-9][0-9]{0,13}", fullmatch=True), min_size=1, max_size=80))
def test_zone_expr_agrees_with_zone_for(numbers: list[str]) -> None:
    c = demo_catalog()
    got = pl.DataFrame({"peer": numbers}).select(c.zone_expr("peer")).to_series().to_list()
    assert got == [c.zone_for(n).id for n in numbers]


def test_roaming_zone_by_country(demo: Catalog) -> None:
    assert demo.roaming_zone_for("HK").id == "roam-1"
    assert demo.roaming_zone_for("jp").id == "roam-2"
    assert demo.roaming_zone_for("DE").id == "roam-3"
    assert demo.roaming_zone_for("BR").id == "roam-world"
    assert demo.country_table()["MO"] == "roam-1"


def test_bands_crossing_midnight(night: Catalog) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert night.band_at(datetime(2026, 3, 1, 23, 30, tzinfo=berlin)).id == "night"  # Sunday night
    assert night.band_at(datetime(2026, 3, 2, 5, 59, 59, tzinfo=berlin)).id == "night"  # Monday, past the week wrap
    assert night.band_at(datetime(2026, 3, 2, 6, 0, tzinfo=berlin)).id == "day"
    assert night.band_at(datetime(2026, 3, 2, 21, 59, tzinfo=berlin)).id == "day"
    assert night.band_at(datetime(2026, 3, 2, 22, 0, tzinfo=berlin)).id == "night"
    # the same instant given in UTC is read on the catalog's clock (Berlin is UTC+1 in March)
    assert night.band_at(datetime(2026, 3, 2, 4, 59, tzinfo=UTC)).id == "night"
    assert night.band_at(datetime(2026, 3, 2, 5, 0, tzinfo=UTC)).id == "day"
    boundaries = night.band_boundaries()
    assert boundaries[0] == (0, "night") and boundaries[1] == (6 * 3600, "day")
    with pytest.raises(NaiveTimeError):
        night.band_at(datetime(2026, 3, 2, 12, 0))


def test_band_segments_split_a_call_at_band_changes(night: Catalog) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 1, 21, 50, tzinfo=berlin)
    parts = night.band_segments(start, start + timedelta(hours=8, minutes=20))  # to Monday 06:10
    assert [(s.strftime("%a %H:%M"), e.strftime("%a %H:%M"), b.id) for s, e, b in parts] == [
        ("Sun 21:50", "Sun 22:00", "day"), ("Sun 22:00", "Mon 06:00", "night"), ("Mon 06:00", "Mon 06:10", "day"),
    ]
    whole = night.band_segments(datetime(2026, 3, 2, 7, tzinfo=berlin), datetime(2026, 3, 2, 8, tzinfo=berlin))
    assert len(whole) == 1 and whole[0][2].id == "day"


def test_demo_bands_peak_and_offpeak(demo: Catalog) -> None:
    assert demo.band_at(datetime(2026, 3, 4, 10, 0, tzinfo=SH)).id == "peak"  # Wednesday
    assert demo.band_at(datetime(2026, 3, 4, 23, 30, tzinfo=SH)).id == "offpeak"
    assert demo.band_at(datetime(2026, 3, 7, 10, 0, tzinfo=SH)).id == "offpeak"  # Saturday


@settings(max_examples=40, deadline=None)
@given(st.lists(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
                min_size=1, max_size=30))
def test_band_expr_agrees_with_band_at(instants: list[datetime]) -> None:
    for cat in (night_catalog(), demo_catalog()):
        frame = pl.DataFrame({"started_at": instants}, schema={"started_at": pl.Datetime("us", "UTC")})
        got = frame.select(cat.band_expr("started_at")).to_series().to_list()
        assert got == [cat.band_at(t).id for t in instants]


def test_rules_first_match_and_allowances(demo: Catalog) -> None:
    payg = demo.plan("payg")
    assert payg.rule_for("voice", "out", "domestic", None, "peak").id == "payg/voice-domestic-peak"  # type: ignore[union-attr]
    assert payg.rule_for("voice", "out", "domestic", None, "offpeak").id == "payg/voice-domestic-offpeak"  # type: ignore[union-attr]
    basic = demo.plan("basic-39")
    incoming = basic.rule_for("voice", "in", "domestic", None, "peak")
    assert incoming is not None and incoming.free and incoming.id == "home/voice-in"
    roaming_in = basic.rule_for("voice", "in", "domestic", "roam-3", "peak")
    assert roaming_in is not None and roaming_in.rate == "voice-roam-3"
    assert basic.rule_for("sms", "in", "domestic", "roam-2", "peak").id == "roam/sms-in"  # type: ignore[union-attr]
    data = basic.rule_for("data", None, None, "roam-1", "peak")
    assert data is not None and str(data.daily_cap) == "25.00"
    assert basic.rule_for("voice", "out", "intl-premium", None, "peak").rate == "voice-intl-premium"  # type: ignore[union-attr]
    assert [a.id for a in basic.allowances_for("voice", "out", "domestic", None, "peak")] == ["basic-39/voice"]
    assert basic.allowances_for("voice", "out", "intl-2", None, "peak") == ()
    assert basic.allowances_for("data", None, None, "roam-1", "peak") == ()  # allowances are for home use
    assert demo.plan("unlimited-129").rule_for("data", None, None, None, "peak").free  # type: ignore[union-attr]
    assert demo.rule("intl/sms").rate == "sms-intl-100"
    with pytest.raises(NotFoundError):
        demo.plan("gold-999")
