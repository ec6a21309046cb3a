"""Time bands: the band at a call's start prices it; a call crossing a band change is cut at the boundary
when its rule depends on the band."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl

from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
A = "8613800000001"
CATALOG = load_catalog(default_catalog_path())


def call(rid: str, start: datetime, seconds: int, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "t", "msisdn": A, "kind": "voice", "direction": "out",
            "started_at": start.astimezone(UTC), "duration_s": seconds, "peer": "8613912345678"} | kw


def rated(*rows: dict[str, Any], plan: str = "payg") -> pl.DataFrame:
    res = rate(pl.DataFrame(list(rows)), CATALOG, {A: plan}, period="2026-03")
    assert res.unrated.height == 0
    return res.rated.sort("record_id", "line")


def test_band_at_start() -> None:
    out = rated(call("peak", datetime(2026, 3, 3, 10, 0, tzinfo=CN), 60),  # Tuesday 10:00
                call("night", datetime(2026, 3, 3, 23, 30, tzinfo=CN), 60),
                call("weekend", datetime(2026, 3, 7, 10, 0, tzinfo=CN), 60))
    assert out.select("record_id", "band", "rule_id", "amount_minor").rows() == [
        ("night", "offpeak", "payg/voice-domestic-offpeak", 12),
        ("peak", "peak", "payg/voice-domestic-peak", 19),
        ("weekend", "offpeak", "payg/voice-domestic-offpeak", 12),
    ]


def test_call_crossing_peak_to_offpeak_is_split_at_the_boundary() -> None:
    out = rated(call("x", datetime(2026, 3, 3, 22, 58, 30, tzinfo=CN), 200))  # 90 s peak, 110 s off-peak
    # the peak piece's second started minute runs to 23:00:30: the off-peak piece starts there (CGRateS)
    assert out.select("line", "band", "offset", "quantity", "charged_quantity", "amount_minor").rows() == [
        (0, "peak", 0, 120, 120, 38),  # 2 started minutes at 0.19
        (1, "offpeak", 120, 80, 120, 24),  # 2 started minutes at 0.12
    ]
    carried = datetime(2026, 3, 3, 23, 0, 30, tzinfo=CN).astimezone(UTC)
    assert out["started_at"][1] == carried


def test_call_over_two_boundaries() -> None:
    # Friday 22:59 → Monday 08:01 is one off-peak stretch (the weekend is off-peak): two changes
    start = datetime(2026, 3, 6, 22, 59, tzinfo=CN)
    seconds = int((datetime(2026, 3, 9, 8, 1, tzinfo=CN) - start).total_seconds())
    out = rated(call("long", start, seconds))
    assert out["band"].to_list() == ["peak", "offpeak", "peak"]
    assert out["quantity"].to_list() == [60, seconds - 120, 60]
    assert out["offset"].to_list() == [0, 60, seconds - 60]


def test_no_split_when_the_plan_ignores_bands() -> None:
    out = rated(call("x", datetime(2026, 3, 3, 22, 58, 30, tzinfo=CN), 200), plan="basic-39")
    assert out.height == 1 and out["band"].to_list() == ["peak"]


def test_connect_fee_and_first_step_once_per_call() -> None:
    text = (default_catalog_path().read_text(encoding="utf-8")
            .replace('steps = [{ rate = "0.12", rate_unit = "60s", increment = "60s" }]',
                     'steps = [{ rate = "0.12", rate_unit = "60s", increment = "60s", connect_fee = "1.00" }]')
            .replace('steps = [{ rate = "0.19", rate_unit = "60s", increment = "60s" }]',
                     'steps = [{ rate = "0.19", rate_unit = "60s", increment = "60s", connect_fee = "1.00" }]'))
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems
    res = rate(pl.DataFrame([call("x", datetime(2026, 3, 3, 22, 59, tzinfo=CN), 120)]), catalog, {A: "payg"},
               period="2026-03")
    assert res.rated.sort("line")["amount_minor"].to_list() == [119, 12]  # the fee on the first piece only
