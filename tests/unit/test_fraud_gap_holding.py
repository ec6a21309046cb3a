"""A recycled number's fraud features are its current holder's: the earlier holder's records, dated before the
line's activation, are neither counted nor read as the start of the line's use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.fraud import compute_features

SH = ZoneInfo("Asia/Shanghai")
RECYCLED = "8613800000001"
KEPT = "8613800000002"
ACTIVATED = datetime(2026, 9, 20, 10, 0, tzinfo=SH)  # the current holder of RECYCLED from here on


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _usage() -> pl.DataFrame:
    rows = []
    n = 0

    def call(msisdn: str, at: datetime, peer: str, imei: str) -> None:
        nonlocal n
        n += 1
        rows.append({"record_id": f"h{n:06d}", "source": "test", "msisdn": msisdn, "kind": "voice", "direction": "out",
                     "started_at": at.astimezone(UTC), "duration_s": 60, "bytes_up": None, "bytes_down": None, "peer": peer, "roaming_country": None, "cell_id": "460-00-1",
                     "imei": imei})

    # the earlier holder of RECYCLED: many calls to many numbers on 2 to 5 September, on another device
    for d in range(4):
        for k in range(10):
            call(RECYCLED, datetime(2026, 9, 2 + d, 12, k, tzinfo=SH), f"86139{d:02d}{k:06d}", "356938030000001")
    # the current holder: two calls after the activation
    call(RECYCLED, ACTIVATED + timedelta(hours=2), "8613911112222", "356938030000002")
    call(RECYCLED, ACTIVATED + timedelta(days=1), "8613911113333", "356938030000002")
    # a line that never changed hands, with calls before and after the other's activation date
    call(KEPT, datetime(2026, 9, 3, 9, tzinfo=SH), "8613911114444", "356938030000003")
    call(KEPT, datetime(2026, 9, 25, 9, tzinfo=SH), "8613911115555", "356938030000003")
    return pl.DataFrame(rows, schema={"record_id": pl.String, "source": pl.String, "msisdn": pl.String,
                                      "kind": pl.String, "direction": pl.String, "started_at": pl.Datetime("us", "UTC"),
                                      "duration_s": pl.Int64, "bytes_up": pl.Int64, "bytes_down": pl.Int64,
                                      "peer": pl.String, "roaming_country": pl.String, "cell_id": pl.String, "imei": pl.String})


def _subscribers() -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [RECYCLED, KEPT],
                         "activated_at": [ACTIVATED.astimezone(UTC), datetime(2024, 1, 5, tzinfo=UTC)]},
                        schema={"msisdn": pl.String, "activated_at": pl.Datetime("us", "UTC")})


@pytest.mark.parametrize("chunks", [1, 2])
def test_recycled_line_features_are_the_current_holders(catalog: Catalog, chunks: int) -> None:
    lines = compute_features(_usage(), catalog=catalog, subscribers=_subscribers(), chunks=chunks).lines
    row = lines.filter(pl.col("msisdn") == RECYCLED).row(0, named=True)
    assert row["calls_out"] == 2
    assert row["distinct_callees"] == 2
    assert row["distinct_imeis"] == 1
    assert row["active_days"] == 2
    assert row["first_at"] == (ACTIVATED + timedelta(hours=2)).astimezone(UTC)
    assert row["line_age_days"] == pytest.approx(2 / 24)


def test_line_that_never_changed_hands_is_unchanged(catalog: Catalog) -> None:
    usage = _usage()
    bounded = compute_features(usage, catalog=catalog, subscribers=_subscribers()).lines
    free = compute_features(usage, catalog=catalog).lines
    kept = [c for c in bounded.columns if c not in ("activated_at", "line_age_days", "premium_line_age_days")]
    assert bounded.filter(pl.col("msisdn") == KEPT).select(kept).equals(free.filter(pl.col("msisdn") == KEPT).select(kept))
    assert bounded.filter(pl.col("msisdn") == KEPT)["calls_out"].item() == 2
