"""Rating on an operator clock with daylight saving, and destination numbers written with ``+`` or ``00``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog, parse_catalog
from fairtel.core.time import Period
from fairtel.rating import quote, rate

A = "8613800000001"
BERLIN = ZoneInfo("Europe/Berlin")
CN = timezone(timedelta(hours=8))


def catalog_on(tz: str) -> Catalog:
    text = default_catalog_path().read_text(encoding="utf-8").replace('timezone = "Asia/Shanghai"', f'timezone = "{tz}"')
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems
    return catalog


def call(rid: str, start: datetime, seconds: int, peer: str = "8613912345678") -> dict[str, Any]:
    return {"record_id": rid, "source": "t", "msisdn": A, "kind": "voice", "direction": "out",
            "started_at": start.astimezone(UTC), "duration_s": seconds, "peer": peer}


def rated(catalog: Catalog, *rows: dict[str, Any], plan: str = "payg") -> pl.DataFrame:
    period = Period.containing(rows[0]["started_at"], catalog.operator.timezone)
    res = rate(pl.DataFrame(list(rows)), catalog, {A: plan}, period=period)
    assert res.unrated.height == 0
    return res.rated.sort("record_id", "line")


def test_call_across_spring_forward_is_cut_when_peak_really_begins() -> None:
    berlin = catalog_on("Europe/Berlin")
    # Sunday 29 March 2026 01:30 CET; the clocks skip 02:00-03:00; peak begins Monday 08:00 CEST, 29.5 h later
    start = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN)
    out = rated(berlin, call("x", start, 30 * 3600))
    assert out.select("band", "offset", "quantity").rows() == [("offpeak", 0, 106_200), ("peak", 106_200, 1_800)]
    assert out["started_at"][1] == datetime(2026, 3, 30, 8, 0, tzinfo=BERLIN).astimezone(UTC)
    assert out["amount_minor"].to_list() == [1_770 * 12, 30 * 19]


def test_call_across_fall_back_is_not_cut_an_hour_early() -> None:
    berlin = catalog_on("Europe/Berlin")
    # Sunday 25 October 2026 01:30:30 CEST; the clocks repeat 02:00-03:00; 31 h later is Monday 07:30:30 CET,
    # still off-peak: one line, and no started minute billed twice at a false boundary
    start = datetime(2026, 10, 25, 1, 30, 30, tzinfo=BERLIN)
    out = rated(berlin, call("x", start, 31 * 3600))
    assert out.select("band", "offset", "quantity", "amount_minor").rows() == [("offpeak", 0, 111_600, 1_860 * 12)]


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Shanghai"])
@pytest.mark.parametrize("start_utc, seconds", [
    (datetime(2026, 3, 28, 20, 0, tzinfo=UTC), 40 * 3600),
    (datetime(2026, 3, 8, 3, 0, tzinfo=UTC), 40 * 3600),
    (datetime(2026, 4, 4, 12, 0, tzinfo=UTC), 70 * 3600),
    (datetime(2026, 10, 24, 21, 0, tzinfo=UTC), 40 * 3600),
    (datetime(2026, 11, 1, 4, 0, tzinfo=UTC), 40 * 3600),
    (datetime(2026, 10, 3, 14, 0, tzinfo=UTC), 60 * 3600),
])
def test_pieces_are_the_catalogs_band_segments(tz: str, start_utc: datetime, seconds: int) -> None:
    catalog = catalog_on(tz)
    start = start_utc + timedelta(seconds=17)
    out = rated(catalog, call("x", start, seconds))
    # each piece rounded up to its started minute runs on into the next band, which starts there (CGRateS)
    segments = catalog.band_segments(start, start + timedelta(seconds=seconds))
    starts, reach = [], start
    for s, e, _ in segments:
        s = min(max(s, reach), start + timedelta(seconds=seconds))
        starts.append(s)
        reach = s + timedelta(minutes=-(-int((e - s).total_seconds()) // 60)) if e > s else reach
    ends = [*starts[1:], start + timedelta(seconds=seconds)]
    expected = [(s.astimezone(UTC), b.id, int((e - s).total_seconds()))
                for s, e, (_, _, b) in zip(starts, ends, segments, strict=True) if e > s]
    assert out.select("started_at", "band", "quantity").rows() == expected
    assert out["charged_quantity"].sum() == -(-seconds // 60) * 60  # the call rounded once, not per piece


def test_peers_written_with_plus_or_00_are_zoned_like_zone_for() -> None:
    catalog = load_catalog(default_catalog_path())
    peers = ["8613912345678", "+8613912345678", "008613912345678", "85261234567", "+85261234567", "0085261234567",
             " +852 6123-4567"]
    start = datetime(2026, 3, 3, 10, 0, tzinfo=CN)
    out = rated(catalog, *(call(f"r{i}", start, 95, peer=p) for i, p in enumerate(peers)))
    assert out["zone"].to_list() == [catalog.zone_for(p).id for p in peers]
    assert out["amount_minor"].to_list() == [38, 38, 38, 300, 300, 300, 300]


def test_quote_prices_a_plus_number_as_its_zone() -> None:
    catalog = load_catalog(default_catalog_path())
    records = [{"kind": "voice", "direction": "out", "started_at": "2026-03-03T10:00:00+08:00", "duration_s": 95,
                "peer": p} for p in ("8613912345678", "+8613912345678", "008613912345678")]
    assert [(q["amount"], q["rule"]) for q in quote(records, catalog)] == [("0.38", "payg/voice-domestic-peak")] * 3
