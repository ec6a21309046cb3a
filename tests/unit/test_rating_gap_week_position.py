"""Where a line starts in the local band week: read from the instant moved by the zone's one offset when the zone
keeps one offset over every line's start (no time-zone conversion of each line), else converted line by line.
Both give the same second of the week, in zones with and without daylight saving, in periods with and without
a change of the clocks."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from tests.unit.test_catalog_gap_repeated_hour import catalog

from fairtel.catalog._bands import DAY, WEEK
from fairtel.rating._rate import _week_position

ZONES = ("Asia/Shanghai", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu")
MONTHS = ((2026, 1), (2026, 3), (2026, 4), (2026, 7), (2026, 10), (2026, 11))


def starts(year: int, month: int, n: int = 5000) -> pl.DataFrame:
    lo = int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1_000_000 - 86_400_000_000
    rng = np.random.default_rng(year * 100 + month)
    us = rng.integers(lo, lo + 33 * 86_400_000_000, size=n)
    return pl.DataFrame({"started_at": us}).select(pl.col("started_at").cast(pl.Datetime("us", "UTC")))


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(("year", "month"), MONTHS)
def test_week_position_is_the_converted_wall_clock(tz: str, year: int, month: int) -> None:
    cat = catalog(("22:00", "07:00"), tz=tz)
    lines = starts(year, month)
    sow, widx = _week_position(cat, lines)
    got = lines.with_columns(sow).with_columns(widx)
    wall = pl.col("started_at").dt.convert_time_zone(tz).dt.replace_time_zone(None).dt.epoch("s")
    expected = lines.select(((wall + 3 * DAY) % WEEK).alias("_sow"))["_sow"]
    assert got["_sow"].to_list() == expected.to_list()
    assert got["_wi"].min() >= 0  # type: ignore[operator]


def test_week_position_of_no_lines() -> None:
    cat = catalog(("22:00", "07:00"), tz="Europe/London")
    lines = pl.DataFrame(schema={"started_at": pl.Datetime("us", "UTC")})
    sow, widx = _week_position(cat, lines)
    assert lines.with_columns(sow).with_columns(widx).height == 0
