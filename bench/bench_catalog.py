"""Catalog lookups and pricing speed: load and validate the demo catalog, zone and band of numbers and times
(one at a time and as Polars expressions over a column), and price_steps. The reference beside the column
figures is the same lookup called row by row from Python, on a sample.

    python bench/bench_catalog.py          # 2,000,000 rows (FAIRTEL_BENCH_RECORDS to change)
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog, price_steps, validate_catalog


def rate_per_s(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s"


def main() -> None:
    # no options (the environment variables in the docstring set the sizes): --help prints the docstring
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    n = int(os.environ.get("FAIRTEL_BENCH_RECORDS", "2000000"))
    rng = random.Random(7)
    t0 = time.perf_counter()
    for _ in range(20):
        validate_catalog(default_catalog_path())
    print(f"validate default catalog: {(time.perf_counter() - t0) / 20 * 1000:.1f} ms")
    c = load_catalog(default_catalog_path())

    prefixes = ["86138", "86139", "852", "1", "44", "2393", "239", "882", "7", "999"]
    numbers = [rng.choice(prefixes) + str(rng.randrange(10**7, 10**8)) for _ in range(n)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    instants = [start + timedelta(seconds=rng.randrange(31 * 86400)) for _ in range(n)]
    sample = min(n, 200_000)

    t0 = time.perf_counter()
    for x in numbers[:sample]:
        c.zone_for(x)
    row_zone = time.perf_counter() - t0
    frame = pl.DataFrame({"peer": numbers, "started_at": instants},
                         schema={"peer": pl.String, "started_at": pl.Datetime("us", "UTC")})
    t0 = time.perf_counter()
    zones = frame.select(c.zone_expr("peer"))
    col_zone = time.perf_counter() - t0
    assert zones.height == n
    print(f"zone, row by row: {rate_per_s(sample, row_zone)}; zone_expr on {n:,} rows: {rate_per_s(n, col_zone)}")

    t0 = time.perf_counter()
    for t in instants[:sample]:
        c.band_at(t)
    row_band = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame.select(c.band_expr("started_at"))
    col_band = time.perf_counter() - t0
    print(f"band, row by row: {rate_per_s(sample, row_band)}; band_expr on {n:,} rows: {rate_per_s(n, col_band)}")

    rate = c.rate("voice-intl-premium")
    durations = [rng.randrange(1, 3600) for _ in range(sample)]
    t0 = time.perf_counter()
    total = sum((price_steps(rate, d) for d in durations), Decimal(0))
    print(f"price_steps (two steps, max cost): {rate_per_s(sample, time.perf_counter() - t0)} (total {total})")


if __name__ == "__main__":
    main()
