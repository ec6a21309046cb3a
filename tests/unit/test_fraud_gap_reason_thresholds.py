"""A case's reasons state the thresholds that were configured, in both languages: the one-ring and brief-call
durations the features counted with, and each detector threshold as written in the thresholds file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.fraud import FeatureConfig, FraudCase, Reason, Thresholds, compute_features, detect

MONDAY = datetime(2026, 9, 7, tzinfo=ZoneInfo("Asia/Shanghai"))
NOW = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = "2026-09"
WANGIRI = "371298765432"  # the premium zone
SCAM = "8613900000021"
_ids = count()
SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "record_id": pl.String, "source": pl.String, "msisdn": pl.String, "kind": pl.String, "direction": pl.String,
    "started_at": pl.Datetime("us", "UTC"), "duration_s": pl.Int64, "bytes_up": pl.Int64, "bytes_down": pl.Int64,
    "peer": pl.String, "roaming_country": pl.String, "cell_id": pl.String, "imei": pl.String,
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def rec(msisdn: str, direction: str, at: datetime, *, peer: str, dur: int, imei: str | None = None) -> dict[str, Any]:
    return {
        "record_id": f"r{next(_ids):08d}", "source": "msc-1", "msisdn": msisdn, "kind": "voice", "direction": direction,
        "started_at": at.astimezone(UTC), "duration_s": dur, "bytes_up": None, "bytes_down": None, "peer": peer,
        "roaming_country": None, "cell_id": "460-00-10001", "imei": imei or f"35{msisdn[-12:]}",
    }


def usage() -> pl.DataFrame:
    """A number ringing 12 lines for 4-5 s (one-ring only when a ring may last 5 s), and a scam line calling 160
    numbers for 12-25 s (brief under a 30 s or a 20 s bound alike) from three handsets."""
    rows = [rec(f"86139{100 + k:08d}", "in", MONDAY + timedelta(hours=2, minutes=k), peer=WANGIRI, dur=4 + k % 2)
            for k in range(12)]
    for d in range(2):
        for k in range(80):
            rows.append(rec(SCAM, "out", MONDAY + timedelta(days=d, hours=10, seconds=k * 240),
                            peer=f"86139{40_000_000 + d * 100 + k:08d}", dur=12 if k % 2 else 19,
                            imei=f"86891203000000{k % 3}"))
    return pl.DataFrame(rows, schema=SCHEMA)


def reason(cases: tuple[FraudCase, ...], detector: str, code: str) -> Reason:
    case = next(c for c in cases if c.detector == detector)
    return next(r for r in case.reasons if r.code == code)


def test_the_reasons_state_the_durations_the_features_counted_with(catalog: Catalog) -> None:
    config = FeatureConfig(tz="Asia/Shanghai", one_ring_max_s=5, brief_call_s=20)
    found = detect(compute_features(usage(), catalog=catalog, config=config), period=PERIOD, now=NOW)
    ring = reason(found.cases, "wangiri", "one_ring_share")
    assert "(0-5 s)" in ring.en and "(0-5 秒)" in ring.zh
    assert "0-3" not in ring.en + ring.zh
    brief = reason(found.cases, "scam", "brief_calls")
    assert "shorter than 20 s" in brief.en and "20 秒以内" in brief.zh
    assert "30" not in brief.en + brief.zh


def test_the_default_reading_still_says_its_own_durations(catalog: Catalog) -> None:
    rows = usage().with_columns(pl.when(pl.col("peer") == WANGIRI).then(2).otherwise(pl.col("duration_s")).alias("duration_s"))
    found = detect(compute_features(rows, catalog=catalog), period=PERIOD, now=NOW)
    ring = reason(found.cases, "wangiri", "one_ring_share")
    assert "(0-3 s)" in ring.en and "(0-3 秒)" in ring.zh
    brief = reason(found.cases, "scam", "brief_calls")
    assert "shorter than 30 s" in brief.en and "30 秒以内" in brief.zh


def test_each_threshold_is_stated_as_configured_not_rounded(catalog: Catalog) -> None:
    thresholds = Thresholds.from_mapping({
        "wangiri": {"min_targets": 9.5, "min_one_ring_share": 0.755},
        "scam": {"min_calls_out_per_day": 37.5, "min_brief_call_share": 0.625, "max_callback_share": 0.0125},
    })
    features = compute_features(usage(), catalog=catalog, config=FeatureConfig(tz="Asia/Shanghai", one_ring_max_s=5))
    found = detect(features, thresholds, period=PERIOD, now=NOW)
    targets = reason(found.cases, "wangiri", "targets")
    assert targets.en == "rang 12.0 different subscribers (≥ 9.5)" and targets.zh == "呼叫了 12.0 位不同用户（≥ 9.5）"
    ring = reason(found.cases, "wangiri", "one_ring_share")
    assert ring.en.endswith("(≥ 75.5%)") and ring.zh.endswith("（≥ 75.5%）")
    per_day = reason(found.cases, "scam", "calls_out_per_day")
    assert per_day.en == "80.0 outgoing calls a day (≥ 37.5)" and per_day.zh == "日均主叫 80.0 次（≥ 37.5）"
    assert reason(found.cases, "scam", "brief_calls").en == "100.0% of calls shorter than 30 s (≥ 62.5%)"
    assert reason(found.cases, "scam", "no_callbacks").zh == "被叫回拨比例 0.00%（≤ 1.25%）"
    # a threshold the format states exactly keeps the format's own decimals
    assert reason(found.cases, "scam", "distinct_callees").en == "called 160 different numbers (≥ 50)"
