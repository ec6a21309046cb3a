"""The engines count ``sims_per_imei`` over each line's current holding (an owner change, 过户: ``holder_since``; a
recycled number: a later ``activated_at``) as ``compute_features`` does: the local engine's buckets with the
devices computed once over the period, and Spark's groups of devices with each line's holding carried to the kernel.

Before: both engines counted every line a device carried in the period (the new customer's line read as sharing
the previous customer's dual-SIM handset), and Spark's groups of devices carried no holding at all."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

sys.path.insert(0, str(Path(__file__).parent.parent / "unit"))
from test_fraud_gap_owner_change_devices import HANDED, MOVED, OTHER, RECYCLED, _subscribers, _usage

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.core.settings import Settings, load_settings
from fairtel.engines import LocalEngine, read_features
from fairtel.engines._kernels import normalise_features
from fairtel.fraud import FeatureConfig, compute_features
from fairtel.store import Lake

P = "2026-03"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _settings(tmp: Path) -> Settings:
    settings = load_settings(home=tmp / "home")
    Lake(settings.lake_dir).write("usage", P, _usage().to_arrow(), part="f1")
    return settings


def _direct(catalog: Catalog, subscribers: pl.DataFrame | None) -> pl.DataFrame:
    cfg = FeatureConfig(tz=catalog.operator.timezone)
    return normalise_features(compute_features(_usage(), catalog=catalog, subscribers=subscribers, config=cfg)).lines


def _sims(lines: pl.DataFrame) -> dict[str, int]:
    return dict(lines.select("msisdn", "sims_per_imei").iter_rows())


def _counted_per_holding(lines: pl.DataFrame) -> None:
    sims = _sims(lines)
    assert (sims[MOVED], sims[OTHER], sims[HANDED], sims[RECYCLED]) == (1, 2, 1, 1)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_local_engine_counts_devices_per_holding(tmp_path: Path, catalog: Catalog, workers: int) -> None:
    settings = _settings(tmp_path)
    LocalEngine(workers=workers, parallel_from=0).features(settings, P, catalog=catalog, subscribers=_subscribers(),
                                                           batch_size=4)
    lines = read_features(settings.lake_dir, P).lines
    _counted_per_holding(lines)
    assert_frame_equal(lines, _direct(catalog, _subscribers()), check_column_order=False)


@pytest.fixture(scope="module")
def spark_engine() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    from fairtel.engines import SparkEngine, spark_session

    spark = spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2"})
    yield SparkEngine(spark=spark, groups=3)
    spark.stop()


@pytest.mark.slow
@pytest.mark.parametrize("form", ["text", "timestamps", "none"])
def test_the_spark_engine_counts_devices_as_the_local_one(tmp_path: Path, catalog: Catalog, spark_engine: Any,
                                                          form: str) -> None:
    subscribers = {"text": _subscribers(), "none": None,
                   "timestamps": _subscribers().with_columns(
                       pl.col("activated_at", "holder_since").str.to_datetime(time_zone="UTC"))}[form]
    settings = _settings(tmp_path)
    spark_engine.features(settings, P, catalog=catalog, subscribers=subscribers)
    lines = read_features(settings.lake_dir, P).lines
    if subscribers is not None:
        _counted_per_holding(lines)
    else:
        assert _sims(lines)[MOVED] == 2  # without the register, the period's devices as they were
    assert_frame_equal(lines, _direct(catalog, subscribers), check_column_order=False)
