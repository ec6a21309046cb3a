"""A rate's max cost bounds what one call costs, also when the call is cut where the time band changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import _rating_reference as reference
import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from fairtel.catalog import Catalog, default_catalog_path, parse_catalog
from fairtel.rating import explain, quote, rate

A = "8613800000001"
CN = timezone(timedelta(hours=8))
PEAK = 'steps = [{ rate = "0.19", rate_unit = "60s", increment = "60s" }]'
OFFPEAK = 'steps = [{ rate = "0.12", rate_unit = "60s", increment = "60s" }]'


def capped_catalog(peak: str | None, offpeak: str | None) -> Catalog:
    text = default_catalog_path().read_text(encoding="utf-8")
    if peak is not None:
        text = text.replace(PEAK, f'max_cost = "{peak}"\n{PEAK}')
    if offpeak is not None:
        text = text.replace(OFFPEAK, f'max_cost = "{offpeak}"\n{OFFPEAK}')
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems
    return catalog


def call(rid: str, start: datetime, seconds: int) -> dict[str, Any]:
    return {"record_id": rid, "source": "t", "msisdn": A, "kind": "voice", "direction": "out",
            "started_at": start.astimezone(UTC), "duration_s": seconds, "peer": "8613912345678"}


def rated(catalog: Catalog, *rows: dict[str, Any]) -> pl.DataFrame:
    res = rate(pl.DataFrame(list(rows)), catalog, {A: "payg"}, period="2026-03")
    assert res.unrated.height == 0
    return res.rated.sort("record_id", "line")


def test_a_call_cut_at_a_band_change_costs_at_most_max_cost() -> None:
    catalog = capped_catalog("1.00", "1.00")
    # Tuesday 22:40 for 40 min: 20 min peak (3.80 uncapped), 20 min off-peak (2.40 uncapped)
    out = rated(catalog, call("x", datetime(2026, 3, 3, 22, 40, tzinfo=CN), 40 * 60),
                call("y", datetime(2026, 3, 3, 10, 0, tzinfo=CN), 40 * 60))
    assert out.filter(pl.col("record_id") == "x").select("band", "amount_minor", "capped").rows() == [
        ("peak", 100, True), ("offpeak", 0, True)]
    assert out.filter(pl.col("record_id") == "y")["amount_minor"].to_list() == [100]  # the same call uncut
    q = quote([{"kind": "voice", "direction": "out", "started_at": "2026-03-03T22:40:00+08:00", "duration_s": 2400,
                "peer": "8613912345678"}], catalog)
    assert q[0]["amount"] == "1.00"
    assert explain("x", rated=out, catalog=catalog).total_minor == 100


def test_each_piece_gets_what_its_rates_cap_leaves() -> None:
    # a cap on the peak rate only: the off-peak piece is priced in full after the capped peak piece
    out = rated(capped_catalog("1.00", None), call("x", datetime(2026, 3, 3, 22, 40, tzinfo=CN), 40 * 60))
    assert out.select("amount_minor", "capped").rows() == [(100, True), (240, False)]
    # a cap above what the first piece costs leaves the rest of it to the next piece
    out = rated(capped_catalog("5.00", "5.00"), call("x", datetime(2026, 3, 3, 22, 40, tzinfo=CN), 40 * 60))
    assert out.select("amount_minor", "capped").rows() == [(380, False), (120, True)]
    # over several band changes (Friday 22:00 to Monday 09:00) the call still costs the cap once
    start = datetime(2026, 3, 6, 22, 0, tzinfo=CN)
    seconds = int((datetime(2026, 3, 9, 9, 0, tzinfo=CN) - start).total_seconds())
    out = rated(capped_catalog("2.00", "3.00"), call("x", start, seconds))
    assert out["band"].to_list() == ["peak", "offpeak", "peak"]
    assert out["amount_minor"].to_list() == [200, 100, 0]


def test_same_lines_as_the_reference_kernel_with_capped_band_rates() -> None:
    catalog = capped_catalog("1.00", "0.50")
    rng = np.random.default_rng(5)
    n = 600
    numbers = [str(8613800000000 + i) for i in range(6)]
    base = datetime(2026, 3, 1, tzinfo=CN).astimezone(UTC)
    data = pl.DataFrame({
        "record_id": [f"r{i}" for i in range(n)], "source": "t", "msisdn": rng.choice(numbers, size=n).tolist(),
        "kind": "voice", "direction": "out",
        "started_at": [base + timedelta(seconds=int(s)) for s in rng.integers(0, 30 * 86400, size=n)],
        "duration_s": [int(x) for x in rng.exponential(3 * 3600, size=n)],
        "peer": rng.choice(["8613912345678", "+8613912345678", "85261234567"], size=n).tolist(),
    })
    subs = {m: "payg" for m in numbers}
    fast = rate(data, catalog, subs, period="2026-03")
    slow = reference.rate(data, catalog, subs, period="2026-03")
    assert fast.rated.filter(pl.col("capped") & (pl.col("amount_minor") == 0)).height > 0  # cut calls were capped
    assert_frame_equal(fast.rated, slow.rated)
    per_call = fast.rated.filter(pl.col("zone") == "domestic").group_by("record_id").agg(pl.col("amount_minor").sum())
    assert per_call["amount_minor"].max() <= 100
