"""Time bands on a clock with daylight saving: a call in the hour the clocks repeat is cut where its band really
changes, never before it began, and rating's pieces are the catalog's band segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from fairtel.catalog import Catalog, parse_catalog
from fairtel.core.time import Period
from fairtel.rating import rate

LONDON = ZoneInfo("Europe/London")
A = "447700900001"

# the band changes at 01:30, inside the hour London repeats on 26 October 2025 (02:00 BST → 01:00 GMT)
CATALOG = """
[operator]
id = "t"
name = { zh = "测试", en = "Test" }
currency = "GBP"
timezone = "Europe/London"

[[zones]]
id = "uk"
name = { zh = "英国", en = "UK" }
prefixes = ["44"]

[[bands]]
id = "night"
windows = [{ days = ["all"], start = "01:30", end = "08:00" }]

[[bands]]
id = "day"
windows = [{ days = ["all"], start = "08:00", end = "01:30" }]

[[rates]]
id = "voice-day"
unit = "second"
steps = [{ rate = "0.60", rate_unit = "60s", increment = "1s" }]

[[rates]]
id = "voice-night"
unit = "second"
steps = [{ rate = "0.30", rate_unit = "60s", increment = "1s" }]

[[plans]]
id = "payg"
name = { zh = "按量", en = "Pay as you go" }
monthly_fee = "0.00"

[[plans.rules]]
id = "payg/voice-night"
kind = "voice"
bands = ["night"]
rate = "voice-night"

[[plans.rules]]
id = "payg/voice-day"
kind = "voice"
rate = "voice-day"
"""


def catalog() -> Catalog:
    cat, problems = parse_catalog(CATALOG)
    assert cat is not None, problems
    return cat


def test_a_call_in_the_repeated_hour_is_cut_at_its_own_band_change() -> None:
    cat = catalog()
    start = datetime(2025, 10, 26, 1, 10, tzinfo=UTC)  # 01:10 GMT, the second 01:10 of the night
    parts = cat.band_segments(start, start + timedelta(minutes=40))
    assert [(s, e, b.id) for s, e, b in parts] == [
        (start, datetime(2025, 10, 26, 1, 30, tzinfo=UTC), "day"),  # 01:30 GMT, not 01:30 BST an hour before
        (datetime(2025, 10, 26, 1, 30, tzinfo=UTC), start + timedelta(minutes=40), "night"),
    ]


def test_segments_of_a_start_on_the_operator_clock_follow_instants_not_wall_times() -> None:
    cat = catalog()
    start = datetime(2025, 10, 26, 1, 10, tzinfo=LONDON, fold=1)  # the same instant, on the London clock
    end = (start.astimezone(UTC) + timedelta(minutes=40)).astimezone(LONDON)  # 01:50 GMT
    parts = cat.band_segments(start, end)
    assert [(s.astimezone(UTC), e.astimezone(UTC), b.id) for s, e, b in parts] == [
        (datetime(2025, 10, 26, 1, 10, tzinfo=UTC), datetime(2025, 10, 26, 1, 30, tzinfo=UTC), "day"),
        (datetime(2025, 10, 26, 1, 30, tzinfo=UTC), datetime(2025, 10, 26, 1, 50, tzinfo=UTC), "night"),
    ]
    assert sum(((e - s) for s, e, _ in parts), timedelta()) == timedelta(minutes=40)


def test_rating_cuts_the_call_where_band_segments_does() -> None:
    cat = catalog()
    start = datetime(2025, 10, 26, 1, 10, tzinfo=UTC)
    usage = pl.DataFrame([{"record_id": "r", "source": "t", "msisdn": A, "kind": "voice", "direction": "out",
                           "started_at": start, "duration_s": 2400, "peer": "447700900002"}])
    res = rate(usage, cat, {A: "payg"}, period=Period.containing(start, cat.operator.timezone))
    assert res.unrated.height == 0
    expected = [(s.astimezone(UTC), b.id, int((e - s).total_seconds()))
                for s, e, b in cat.band_segments(start, start + timedelta(seconds=2400))]
    assert res.rated.sort("line").select("started_at", "band", "quantity").rows() == expected
