"""Time bands when the clocks go back: the repeated wall hour is priced as the wall clock reads it, each time it
comes round (``Catalog.band_at``), and band segments, rating's pieces (fast and reference kernels) and explain
follow it; a jump of the clocks that leaves the band as it was cuts nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import _rating_reference as reference
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from fairtel.catalog import Catalog, parse_catalog
from fairtel.rating import explain, rate
from fairtel.rating._resolve import band_jumps

A = "447700900001"
# London's clocks go back from 02:00 BST to 01:00 GMT at 01:00 UTC on 26 October 2025: the wall times 01:00-02:00
# come round twice, at 00:00-01:00 UTC and again at 01:00-02:00 UTC
BACK = datetime(2025, 10, 26, 1, 0, tzinfo=UTC)
# and forward from 01:00 GMT to 02:00 BST at 01:00 UTC on 30 March 2025
FORWARD = datetime(2025, 3, 30, 1, 0, tzinfo=UTC)

CATALOG = """
[operator]
id = "t"
name = { zh = "测试", en = "Test" }
currency = "GBP"
timezone = "TZ"

[[zones]]
id = "uk"
name = { zh = "英国", en = "UK" }
prefixes = ["44"]

[[bands]]
id = "night"
windows = [WINDOWS]

[[bands]]
id = "day"
windows = [DAY]

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


def catalog(*nights: tuple[str, str], tz: str = "Europe/London") -> Catalog:
    """Night in each (start, end) window of every day, day the rest of the week."""
    cuts = sorted(nights)
    night = ", ".join(f'{{ days = ["all"], start = "{s}", end = "{e}" }}' for s, e in cuts)
    day = ", ".join(f'{{ days = ["all"], start = "{a[1]}", end = "{b[0]}" }}' for a, b in pairwise([*cuts, cuts[0]]))
    cat, problems = parse_catalog(CATALOG.replace("TZ", tz).replace("WINDOWS", night).replace("DAY", day))
    assert cat is not None, problems
    return cat


def call(start: datetime, seconds: int, record_id: str = "r") -> dict[str, object]:
    return {"record_id": record_id, "source": "t", "msisdn": A, "kind": "voice", "direction": "out",
            "started_at": start, "duration_s": seconds, "peer": "447700900002"}


def at(hour: int, minute: int) -> datetime:
    return datetime(2025, 10, 26, hour, minute, tzinfo=UTC)


def test_band_at_reads_the_repeated_hour_as_the_wall_clock_does() -> None:
    cat = catalog(("01:30", "08:00"))
    assert [cat.band_at(t).id for t in (at(0, 29), at(0, 30), at(0, 59), at(1, 0), at(1, 29), at(1, 30))] == [
        "day", "night", "night", "day", "day", "night"]


def test_band_segments_follow_band_at_through_the_repeated_hour() -> None:
    cat = catalog(("01:30", "08:00"))
    start = at(0, 10)
    parts = cat.band_segments(start, start + timedelta(hours=2))
    assert [(s, e, b.id) for s, e, b in parts] == [
        (start, at(0, 30), "day"),  # to 01:30 BST
        (at(0, 30), BACK, "night"),  # to 02:00 BST, when the clocks go back to 01:00 GMT
        (BACK, at(1, 30), "day"),  # 01:00-01:30 GMT reads day again (was night straight through)
        (at(1, 30), start + timedelta(hours=2), "night"),
    ]
    for s, e, b in parts:
        assert cat.band_at(s).id == b.id == cat.band_at(e - timedelta(seconds=1)).id


def test_rating_and_explain_price_the_repeated_hour_as_it_reads() -> None:
    cat = catalog(("01:30", "08:00"))
    start = at(0, 40)  # 01:40 BST, night; one hour to 01:40 GMT
    res = rate(pl.DataFrame([call(start, 3600)]), cat, {A: "payg"}, period="2025-10")
    assert res.unrated.height == 0
    assert res.rated.sort("line").select("started_at", "band", "offset", "quantity", "amount_minor").rows() == [
        (start, "night", 0, 1200, 600),
        (BACK, "day", 1200, 1800, 1800),  # priced at the night rate before (3000 in one line, 1500)
        (at(1, 30), "night", 3000, 600, 300),
    ]
    explained = explain("r", rated=res.rated, catalog=cat)
    assert [(ln.started_at.astimezone(UTC), ln.band, ln.rule_id) for ln in explained.lines] == [
        (start, "night", "payg/voice-night"), (BACK, "day", "payg/voice-day"), (at(1, 30), "night", "payg/voice-night")]
    assert explained.lines[1].started_at.isoformat() == "2025-10-26T01:00:00+00:00"  # the second 01:00, in GMT


def test_a_short_call_across_the_jump_is_cut() -> None:
    # far from the next wall-clock change (08:00), so only the jump tells that the band changes
    cat = catalog(("01:30", "08:00"))
    start = at(0, 59)
    res = rate(pl.DataFrame([call(start, 120)]), cat, {A: "payg"}, period="2025-10")
    assert res.rated.sort("line").select("band", "quantity").rows() == [("night", 60), ("day", 60)]


def test_a_jump_that_keeps_the_band_cuts_nothing() -> None:
    # going back from 02:00 BST to 01:00 GMT with night from 00:30: the repeated hour is all night
    cat = catalog(("00:30", "08:00"))
    res = rate(pl.DataFrame([call(at(0, 40), 3600)]), cat, {A: "payg"}, period="2025-10")
    assert res.rated.select("band", "quantity").rows() == [("night", 3600)]
    # going forward over a whole night window (01:10-01:40 never shows on the clock): day on both sides
    short = catalog(("01:10", "01:40"))
    start = FORWARD - timedelta(minutes=30)
    assert [b.id for _, _, b in short.band_segments(start, start + timedelta(hours=1))] == ["day"]
    res = rate(pl.DataFrame([call(start, 3600)]), short, {A: "payg"}, period="2025-03")
    assert res.rated.select("started_at", "band", "quantity").rows() == [(start, "day", 3600)]


def test_only_jumps_over_a_band_change_are_looked_at() -> None:
    # the check costs nothing where the clock keeps one offset or the jump leaves the band as it was
    night = catalog(("01:30", "08:00"))
    assert band_jumps(night, at(0, 0), at(0, 0)) == [int(BACK.timestamp())]
    assert band_jumps(night, datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 7, 20, tzinfo=UTC)) == []
    assert band_jumps(catalog(("00:30", "08:00")), at(0, 0), at(0, 0)) == []
    assert band_jumps(catalog(("01:30", "08:00"), tz="Asia/Shanghai"), at(0, 0), at(0, 0)) == []
    assert band_jumps(catalog(("01:10", "01:40")), FORWARD, FORWARD) == [int(FORWARD.timestamp())]


def test_fast_and_reference_kernels_agree_across_the_jump() -> None:
    cat = catalog(("01:40", "02:30"), ("04:00", "07:00"))
    rows = [call(BACK - timedelta(seconds=s), d, f"r{i}")
            for i, (s, d) in enumerate((s, d) for s in range(0, 7200, 1111) for d in (30, 900, 2400, 7200))]
    usage = pl.DataFrame(rows)
    fast = rate(usage, cat, {A: "payg"}, period="2025-10")
    slow = reference.rate(usage, cat, {A: "payg"}, period="2025-10")
    assert_frame_equal(fast.rated, slow.rated)
    cut_at_jump = fast.rated.filter((pl.col("started_at") == BACK) & (pl.col("offset") > 0))
    assert cut_at_jump.height > 0 and set(cut_at_jump["band"]) == {"day"}  # 01:00 GMT reads day again


# a band changing inside the hour the clocks repeat (or skip), in zones that jump by an hour or half an hour
ZONES = [("Europe/London", BACK), ("America/New_York", datetime(2025, 11, 2, 6, tzinfo=UTC)),
         ("Australia/Lord_Howe", datetime(2025, 4, 5, 15, tzinfo=UTC)), ("Europe/London", FORWARD)]
WINDOWS = [(("01:30", "08:00"),), (("00:30", "01:15"),), (("01:10", "01:40"), ("05:00", "06:00")),
           (("01:15", "01:45"),), (("01:00", "02:00"),), (("00:59", "01:01"), ("01:59", "04:00")),
           (("02:00", "02:10"),), (("01:50", "02:20"),)]
CATALOGS = {(tz, w): catalog(*w, tz=tz) for tz, _ in ZONES for w in WINDOWS}


@settings(max_examples=80, deadline=None)
@given(zone=st.sampled_from(ZONES), windows=st.sampled_from(WINDOWS), before=st.integers(0, 3 * 3600),
       seconds=st.integers(1, 4 * 3600))
def test_pieces_are_where_band_at_changes_when_the_clocks_jump(
    zone: tuple[str, datetime], windows: tuple[tuple[str, str], ...], before: int, seconds: int,
) -> None:
    tz, jump = zone
    cat = CATALOGS[(tz, windows)]
    start = jump - timedelta(seconds=before)
    parts = cat.band_segments(start, start + timedelta(seconds=seconds))
    # one band per piece, band_at's from its first second to its last, and a change at every cut
    for s, e, b in parts:
        assert cat.band_at(s).id == b.id == cat.band_at(e - timedelta(seconds=1)).id
    assert all(a[2] != b[2] for a, b in pairwise(parts))
    usage = pl.DataFrame([call(start, seconds)])
    expected = [(s, b.id, int((e - s).total_seconds())) for s, e, b in parts]
    for kernel in (rate, reference.rate):
        res = kernel(usage, cat, {A: "payg"}, period=f"{start.astimezone(cat.tz):%Y-%m}")
        assert res.rated.sort("line").select("started_at", "band", "quantity").rows() == expected


@pytest.mark.parametrize("tz", ["Europe/London", "Asia/Shanghai"])
def test_calls_away_from_any_jump_are_cut_as_before(tz: str) -> None:
    cat = catalog(("01:30", "08:00"), tz=tz)
    start = datetime(2025, 10, 20, 0, 0, tzinfo=cat.tz)
    res = rate(pl.DataFrame([call(start, 7200)]), cat, {A: "payg"}, period="2025-10")
    assert res.rated.sort("line").select("band", "quantity").rows() == [("day", 5400), ("night", 1800)]
