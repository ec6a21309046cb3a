"""Time bands on a clock with daylight saving: a call in the hour the clocks repeat is cut where its band really
changes, never before it began; a change at a time the clocks skip happens when they jump over it, where band_at
changes; and rating's pieces are the catalog's band segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from fairtel.catalog import Catalog, parse_catalog
from fairtel.core.time import Period
from fairtel.rating import explain, rate

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


# ---- the clocks going forward: a change at a wall time they skip -------------------------------------------------
# London's clocks go from 01:00 GMT to 02:00 BST on 30 March 2025 (01:00 UTC): 01:30, where night begins, never
# shows on them. Night begins when they jump over it, at 02:00 BST, which is what band_at reads.
JUMP = datetime(2025, 3, 30, 1, 0, tzinfo=UTC)


def test_band_at_gives_night_from_the_jump() -> None:
    cat = catalog()
    assert cat.band_at(JUMP - timedelta(seconds=1)).id == "day"
    assert cat.band_at(JUMP).id == "night"


def test_band_segments_cut_where_the_clocks_jump_over_the_change() -> None:
    cat = catalog()
    start = datetime(2025, 3, 30, 0, 50, tzinfo=UTC)
    parts = cat.band_segments(start, start + timedelta(hours=1))
    assert [(s, e, b.id) for s, e, b in parts] == [
        (start, JUMP, "day"),  # not to 02:30 BST (01:30 UTC), half an hour after band_at says night
        (JUMP, start + timedelta(hours=1), "night"),
    ]
    assert all(cat.band_at(s).id == b.id for s, _, b in parts)


def test_rating_cuts_a_call_across_the_jump_where_band_at_changes() -> None:
    cat = catalog()
    start = datetime(2025, 3, 30, 0, 50, tzinfo=UTC)
    usage = pl.DataFrame([{"record_id": "r", "source": "t", "msisdn": A, "kind": "voice", "direction": "out",
                           "started_at": start, "duration_s": 3600, "peer": "447700900002"}])
    res = rate(usage, cat, {A: "payg"}, period=Period.containing(start, cat.operator.timezone))
    assert res.unrated.height == 0
    assert res.rated.sort("line").select("started_at", "band", "offset", "quantity", "amount_minor").rows() == [
        (start, "day", 0, 600, 600), (JUMP, "night", 600, 3000, 1500),
    ]
    explained = explain("r", rated=res.rated, catalog=cat)
    assert [(ln.started_at, ln.band) for ln in explained.lines] == [(start, "day"), (JUMP, "night")]


# a band that changes inside the gap in several zones: London's hour, Lord Howe's half hour (02:00 → 02:30)
# and New York at 02:00 → 03:00
SKIPS = [
    ("Europe/London", "01:30", datetime(2025, 3, 30, 0, 40, tzinfo=UTC)),
    ("Europe/London", "01:00", datetime(2025, 3, 30, 0, 40, tzinfo=UTC)),
    ("Australia/Lord_Howe", "02:10", datetime(2025, 10, 4, 15, 0, tzinfo=UTC)),
    ("America/New_York", "02:59", datetime(2025, 3, 9, 6, 30, tzinfo=UTC)),
]


@pytest.mark.parametrize(("tz", "change", "start"), SKIPS)
def test_pieces_follow_band_at_when_the_change_is_skipped(tz: str, change: str, start: datetime) -> None:
    text = CATALOG.replace('timezone = "Europe/London"', f'timezone = "{tz}"').replace('"01:30"', f'"{change}"')
    cat, problems = parse_catalog(text)
    assert cat is not None, problems
    seconds = 3 * 3600
    parts = cat.band_segments(start, start + timedelta(seconds=seconds))
    # each piece is one band, band_at's, and band_at changes at each cut
    for s, e, b in parts:
        assert {cat.band_at(s).id, cat.band_at(e - timedelta(seconds=1)).id} == {b.id}
    assert [b.id for _, _, b in parts] == ["day", "night"]
    usage = pl.DataFrame([{"record_id": "r", "source": "t", "msisdn": A, "kind": "voice", "direction": "out",
                           "started_at": start, "duration_s": seconds, "peer": "447700900002"}])
    res = rate(usage, cat, {A: "payg"}, period=Period.containing(start, cat.operator.timezone))
    assert res.rated.sort("line").select("started_at", "band", "quantity").rows() == [
        (s.astimezone(UTC), b.id, int((e - s).total_seconds())) for s, e, b in parts]
