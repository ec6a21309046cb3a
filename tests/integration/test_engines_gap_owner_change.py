"""The engines' fraud feature pass after an owner change (过户): the register moves a line to another customer with
its ``activated_at`` kept and dates the change (``holder_since``). Run through an engine (the local one's buckets,
Spark's grouped maps, the spark-submit job's ``features``) the new customer's line counts its own records alone
and its age from the change, as ``compute_features`` called directly does.

Before: the Spark engine carried only (msisdn, activated_at) to the kernel and the job read no ``holder_since`` from
the register, so the new customer was scored on the previous customer's calls and on a line a year old."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from fairtel.catalog import Catalog, default_catalog_path, load_catalog
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import Settings, load_settings
from fairtel.engines import LocalEngine, read_features
from fairtel.engines._kernels import normalise_features
from fairtel.fraud import FeatureConfig, compute_features
from fairtel.store import Lake

CN = timezone(timedelta(hours=8))
MOVED, KEPT = "8613800000001", "8613800000002"
P = "2026-03"
CHANGE = "2026-03-10T00:00:00+08:00"
PREMIUM = "8819000001"  # the catalog's intl-premium range


def _call(rid: str, msisdn: str, day: int, peer: str = "8613912345678") -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in CLEAN_USAGE_SCHEMA}
    return row | {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": "voice", "direction": "out",
                  "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "duration_s": 120,
                  "peer": peer, "parts": 1, "incomplete": False}


# MOVED: the previous customer's calls on 2 and 5 March (one premium), the new customer's on 12 and 20 March
USAGE = [_call("m-prev-1", MOVED, 2), _call("m-prev-2", MOVED, 5, PREMIUM), _call("m-new-1", MOVED, 12),
         _call("m-new-2", MOVED, 20, PREMIUM), _call("k-1", KEPT, 3), _call("k-2", KEPT, 25)]


def _register(holder_since: list[str | None]) -> pl.DataFrame:
    """The register as a file gives it: instants as RFC 3339 text."""
    return pl.DataFrame({"msisdn": [MOVED, KEPT], "plan_id": ["payg", "payg"],
                         "activated_at": ["2025-01-01T00:00:00+08:00", "2025-01-01T00:00:00+08:00"],
                         "holder_since": holder_since}, schema_overrides={"holder_since": pl.String})


MOVED_REGISTER = _register([CHANGE, None])


def _settings(tmp: Path) -> Settings:
    settings = load_settings(home=tmp / "home")
    Lake(settings.lake_dir).write("usage", P, pa.Table.from_pylist(USAGE, schema=CLEAN_USAGE_SCHEMA), part="f1")
    return settings


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_path())


def _direct(catalog: Catalog, subscribers: pl.DataFrame) -> pl.DataFrame:
    usage = pl.from_arrow(pa.Table.from_pylist(USAGE, schema=CLEAN_USAGE_SCHEMA))
    assert isinstance(usage, pl.DataFrame)
    cfg = FeatureConfig(tz=catalog.operator.timezone)
    return normalise_features(compute_features(usage, catalog=catalog, subscribers=subscribers, config=cfg)).lines


def _moved_is_the_new_customers(lines: pl.DataFrame) -> None:
    row = lines.filter(pl.col("msisdn") == MOVED).to_dicts()[0]
    assert row["calls_out"] == 2  # the two calls after the change, not the previous customer's two
    assert row["premium_calls"] == 1
    assert row["line_age_days"] == pytest.approx(2.0 + 10 / 24)  # from 10 March to its first call, 12 March 10:00
    kept = lines.filter(pl.col("msisdn") == KEPT).to_dicts()[0]
    assert kept["calls_out"] == 2 and kept["line_age_days"] > 400  # no change: from its activation


def _engine_lines(settings: Settings) -> pl.DataFrame:
    return read_features(settings.lake_dir, P).lines


@pytest.mark.parametrize("workers", [1, 2])
def test_the_local_engine_counts_a_moved_line_from_its_owner_change(tmp_path: Path, catalog: Catalog,
                                                                    workers: int) -> None:
    settings = _settings(tmp_path)
    LocalEngine(workers=workers, parallel_from=0).features(settings, P, catalog=catalog, subscribers=MOVED_REGISTER,
                                                           batch_size=2)
    lines = _engine_lines(settings)
    _moved_is_the_new_customers(lines)
    assert_frame_equal(lines, _direct(catalog, MOVED_REGISTER), check_column_order=False)


def test_a_group_whose_rows_carry_the_holding_counts_from_the_owner_change(catalog: Catalog) -> None:
    """The kernel's group without a subscribers table reads each line's ``activated_at`` and ``holder_since`` from
    its usage rows."""
    from fairtel.engines._kernels import feature_group

    usage = pl.from_arrow(pa.Table.from_pylist(USAGE, schema=CLEAN_USAGE_SCHEMA))
    assert isinstance(usage, pl.DataFrame)
    holding = _as_timestamps(MOVED_REGISTER).select("msisdn", "activated_at", "holder_since")
    rows = usage.join(holding, on="msisdn", how="left", maintain_order="left")
    lines, _ = feature_group(rows, catalog=catalog, config=FeatureConfig(tz=catalog.operator.timezone))
    _moved_is_the_new_customers(lines)
    assert_frame_equal(lines, _direct(catalog, MOVED_REGISTER), check_column_order=False)


# --------------------------------------------------------------------------------------------------------- Spark
spark_only = pytest.mark.slow


@pytest.fixture(scope="module")
def spark_engine() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    from fairtel.engines import SparkEngine, spark_session

    spark = spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2"})
    yield SparkEngine(spark=spark, groups=3)
    spark.stop()


def _as_timestamps(register: pl.DataFrame) -> pl.DataFrame:
    """The register as the store gives it: aware timestamps (a null column where no line changed owner)."""
    return register.with_columns(pl.col("activated_at", "holder_since").str.to_datetime(time_zone="UTC"))


@spark_only
@pytest.mark.parametrize("form", ["text", "timestamps"])
def test_the_spark_engine_counts_a_moved_line_from_its_owner_change(tmp_path: Path, catalog: Catalog,
                                                                    spark_engine: Any, form: str) -> None:
    register = MOVED_REGISTER if form == "text" else _as_timestamps(MOVED_REGISTER)
    settings = _settings(tmp_path)
    spark_engine.features(settings, P, catalog=catalog, subscribers=register)
    lines = _engine_lines(settings)
    _moved_is_the_new_customers(lines)
    assert_frame_equal(lines, _direct(catalog, MOVED_REGISTER), check_column_order=False)


@spark_only
@pytest.mark.parametrize("holder_since", ["absent", "null text", "null"])
def test_the_spark_engine_without_an_owner_change_is_unchanged(tmp_path: Path, catalog: Catalog, spark_engine: Any,
                                                               holder_since: str) -> None:
    """No ``holder_since`` (no column, or no value: text or a column of nulls) reads as the activation alone."""
    register = {"absent": _register([None, None]).drop("holder_since"), "null text": _register([None, None]),
                "null": _register([None, None]).with_columns(pl.lit(None).alias("holder_since"))}[holder_since]
    settings = _settings(tmp_path)
    spark_engine.features(settings, P, catalog=catalog, subscribers=register)
    lines = _engine_lines(settings)
    expected = _direct(catalog, _register([None, None]).drop("holder_since"))
    assert lines.filter(pl.col("msisdn") == MOVED)["calls_out"].to_list() == [4]
    assert_frame_equal(lines, expected, check_column_order=False)


@spark_only
def test_the_spark_job_reads_holder_since_from_the_register(tmp_path: Path, catalog: Catalog, spark_engine: Any,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from fairtel.engines._job import main

    monkeypatch.setenv("FAIRTEL_HOME", str(tmp_path / "home"))
    settings = _settings(tmp_path)
    register = tmp_path / "subscribers.csv"
    MOVED_REGISTER.with_columns(pl.lit("active").alias("status")).write_csv(register)
    assert main(["features", "--period", P, "--lake", settings.lake_dir.resolve().as_uri(),
                 "--catalog", str(default_catalog_path()), "--subscribers", str(register)]) == 0
    capsys.readouterr()
    lines = _engine_lines(settings)
    _moved_is_the_new_customers(lines)
    assert_frame_equal(lines, _direct(catalog, MOVED_REGISTER), check_column_order=False)
