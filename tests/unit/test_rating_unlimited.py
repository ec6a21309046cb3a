"""Unlimited data: never charged; past the throttle threshold lines are flagged, not priced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
A = "8613800000001"
GIB = 1024**3
CATALOG = load_catalog(default_catalog_path())


def data(rid: str, day: int, gib: int, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "t", "msisdn": A, "kind": "data",
            "started_at": datetime(2026, 3, day, 12, tzinfo=CN).astimezone(UTC), "bytes_up": 0,
            "bytes_down": gib * GIB} | kw


def test_throttled_after_40_gib_and_never_charged() -> None:
    rows = [data(f"d{i}", i + 1, 15) for i in range(4)]  # 15, 30, 45, 60 GiB
    res = rate(pl.DataFrame(rows), CATALOG, {A: "unlimited-129"}, period="2026-03")
    out = res.rated.sort("record_id")
    assert out["throttled"].to_list() == [False, False, True, True]  # d2 crosses 40 GiB
    assert out["amount_minor"].to_list() == [0, 0, 0, 0]
    assert out["allowance_id"].to_list() == ["unlimited-129/data"] * 4
    assert out["allowance_before"].to_list() == [0, 15 * GIB, 30 * GIB, 45 * GIB]
    assert res.closing_state.row(0) == (A, "unlimited-129/data", 60 * GIB)


def test_throttle_threshold_carries_over_batches() -> None:
    first = rate(pl.DataFrame([data("a", 1, 39)]), CATALOG, {A: "unlimited-129"}, period="2026-03")
    second = rate(pl.DataFrame([data("b", 2, 2)]), CATALOG, {A: "unlimited-129"}, period="2026-03",
                  opening_state=first.closing_state)
    assert first.rated["throttled"].to_list() == [False]
    assert second.rated["throttled"].to_list() == [True]


def test_capped_plan_charges_instead() -> None:
    rows = [data("a", 1, 10), data("b", 2, 1)]
    res = rate(pl.DataFrame(rows), CATALOG, {A: "basic-39"}, period="2026-03")
    out = res.rated.sort("record_id")
    assert out["amount_minor"].to_list() == [0, 300] and not any(out["throttled"])
