"""The fraud aggregates that cross lines after an owner change (过户, the subscribers' ``holder_since``) or a recycled
number (a later ``activated_at``).

``sims_per_imei``: a line counts only the devices it was seen in during its current holding, and in each the lines
seen in it since that holding began (whoever holds them). A device the previous customer used before the change, or
the SIMs a device carried before it, do not make the new holder's line look like a SIM-box; a box whose SIMs stay
in it after one of them changed hands still counts them all.

``callers`` (per international number that called in) counts the whole period: each call rang whoever held the line
then. What is the line's own (its callers, its callbacks to a one-ring number) counts its current holding alone.

Before: ``sims_per_imei`` counted every line a device carried in the period, so the new customer's line read as
sharing the previous customer's dual-SIM handset (2 SIMs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.fraud import FeatureConfig, compute_features, cross_features, device_sims

CN = timezone(timedelta(hours=8))
CHANGE = "2026-03-10T00:00:00+08:00"
# MOVED changed owner on 10 March: its previous customer used it in a dual-SIM handset with OTHER; the new one in a
# phone of their own. HANDED changed owner too, the handset kept in the family: AUNT's line left it on 8 March.
MOVED, OTHER, HANDED, AUNT = "8613800000001", "8613800000002", "8613800000003", "8613800000004"
# a SIM-box of three lines all month; BOX3 changed owner on 10 March and stayed in the box
BOX1, BOX2, BOX3 = "8613800000011", "8613800000012", "8613800000013"
# a recycled number: its earlier holder's handset was shared, the new holder (activated 15 March) has their own
RECYCLED, NEIGHBOUR = "8613800000021", "8613800000022"
WANGIRI = "37120000001"


def _rec(rid: str, msisdn: str, day: int, imei: str | None, *, direction: str = "out", peer: str = "8613912345678",
         duration_s: int = 60, hour: int = 10) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": direction,
                  "started_at": datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC), "duration_s": duration_s,
                  "peer": peer, "imei": imei, "parts": 1, "incomplete": False}


def _usage() -> pl.DataFrame:
    rows = [_rec("m1", MOVED, 2, "dual"), _rec("m2", MOVED, 5, "dual"), _rec("o1", OTHER, 3, "dual"),
            _rec("o2", OTHER, 20, "dual"), _rec("m3", MOVED, 12, "own"), _rec("m4", MOVED, 20, "own"),
            _rec("h1", HANDED, 2, "family"), _rec("a1", AUNT, 8, "family"), _rec("h2", HANDED, 15, "family"),
            _rec("r1", RECYCLED, 3, "flat"), _rec("n1", NEIGHBOUR, 4, "flat"), _rec("r2", RECYCLED, 20, "mine")]
    rows += [_rec(f"b{i}-{d}", m, d, "box") for i, m in enumerate((BOX1, BOX2, BOX3)) for d in (2, 12, 25)]
    # a one-ring number rang MOVED's previous customer and OTHER on 4 March; MOVED's new customer called it on the
    # 12th (not a call back: nobody rang them)
    rows += [_rec("w1", MOVED, 4, None, direction="in", peer=WANGIRI, duration_s=1),
             _rec("w2", OTHER, 4, None, direction="in", peer=WANGIRI, duration_s=1),
             _rec("w3", MOVED, 12, None, peer=WANGIRI, duration_s=30, hour=11)]
    return pl.DataFrame(rows, schema=pl.Schema(CLEAN_USAGE_SCHEMA))


def _subscribers() -> pl.DataFrame:
    lines = [MOVED, OTHER, HANDED, AUNT, BOX1, BOX2, BOX3, RECYCLED, NEIGHBOUR]
    since = {MOVED: CHANGE, HANDED: CHANGE, BOX3: CHANGE}
    activated = {RECYCLED: "2026-03-15T00:00:00+08:00"}
    return pl.DataFrame({"msisdn": lines,
                         "activated_at": [activated.get(m, "2025-01-01T00:00:00+08:00") for m in lines],
                         "holder_since": [since.get(m) for m in lines]}, schema_overrides={"holder_since": pl.String})


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _lines(catalog: Catalog, subscribers: pl.DataFrame | None, **kw: Any) -> dict[str, dict[str, Any]]:
    found = compute_features(_usage(), catalog=catalog, subscribers=subscribers,
                             config=FeatureConfig(tz=catalog.operator.timezone), **kw)
    return {r["msisdn"]: r for r in found.lines.iter_rows(named=True)}


@pytest.mark.parametrize("chunks", [1, 3])
def test_a_device_counts_the_sims_of_each_lines_own_holding(catalog: Catalog, chunks: int) -> None:
    lines = _lines(catalog, _subscribers(), chunks=chunks)
    sims = {m: r["sims_per_imei"] for m, r in lines.items()}
    assert sims[MOVED] == 1  # its own phone: the previous customer's dual-SIM handset is not the new customer's
    assert sims[OTHER] == 2  # the previous customer's handset carried both their SIMs
    assert sims[HANDED] == 1  # the family handset held AUNT's line only before the change
    assert sims[AUNT] == 2
    assert sims[BOX1] == sims[BOX2] == sims[BOX3] == 3  # the box's SIMs, the one that changed hands included
    assert sims[RECYCLED] == 1 and sims[NEIGHBOUR] == 2  # the earlier holder's shared handset is not the new one's


def test_without_subscribers_a_device_counts_every_line_of_the_period(catalog: Catalog) -> None:
    sims = {m: r["sims_per_imei"] for m, r in _lines(catalog, None).items()}
    assert sims[MOVED] == 2 and sims[HANDED] == 2 and sims[RECYCLED] == 2 and sims[BOX3] == 3


def test_the_kernel_of_a_group_of_devices_gives_the_same_counts(catalog: Catalog) -> None:
    """``device_sims`` on the device pairs (what the Spark engine's groups of devices run) agrees with
    ``compute_features``, whichever way the devices are grouped."""
    usage = _usage().filter(pl.col("imei").is_not_null())
    pairs = usage.group_by("imei", "msisdn").agg(pl.col("started_at").max().alias("last_at"))
    expected = {m: r["sims_per_imei"] for m, r in _lines(catalog, _subscribers()).items() if r["sims_per_imei"]}
    whole = dict(device_sims(pairs, subscribers=_subscribers()).iter_rows())
    assert whole == expected
    per_device: dict[str, int] = {}
    for imei in pairs["imei"].unique().to_list():
        for m, n in device_sims(pairs.filter(pl.col("imei") == imei), subscribers=_subscribers()).iter_rows():
            per_device[m] = max(per_device.get(m, 0), n)
    assert per_device == expected


def test_a_caller_counts_the_whole_period_and_a_line_its_own_holding(catalog: Catalog) -> None:
    lines = _lines(catalog, _subscribers())
    found = compute_features(_usage(), catalog=catalog, subscribers=_subscribers(),
                             config=FeatureConfig(tz=catalog.operator.timezone))
    caller = found.callers.filter(pl.col("peer") == WANGIRI).to_dicts()[0]
    assert caller["targets"] == 2 and caller["one_ring_calls"] == 2  # it rang two subscribers, whoever held MOVED
    assert lines[MOVED]["distinct_callers"] == 0  # the ring was the previous customer's
    assert lines[MOVED]["callbacks_to_one_ring"] == 0 and found.callbacks.height == 0
    cross = cross_features(_usage(), catalog=catalog)
    assert cross.callers.filter(pl.col("peer") == WANGIRI)["targets"].to_list() == [2]
