"""The Spark engine and the local one (in one process and in worker processes) agree in the month of owner changes
(过户: the register's ``holder_since``): each holding draws the plan's allowances, throttle thresholds and daily caps
on counters of its own, and both engines write the lines of one kernel call over the whole month.

Before: the Spark engine handed the kernel only the lines' plans, and the kernel drew a line's allowances across the
change, so the new customer paid for usage their plan includes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

pytest.importorskip("pyspark")

from fairtel.catalog import load_catalog
from fairtel.core.settings import load_settings
from fairtel.engines import LocalEngine, SparkEngine
from fairtel.mediation import ingest_files
from fairtel.rating import rate
from fairtel.synth import synthesize

PERIOD = "2025-03"
CN = timezone(timedelta(hours=8))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark_engine() -> Iterator[SparkEngine]:
    from fairtel.engines import spark_session

    spark = spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2"})
    yield SparkEngine(spark=spark, groups=3)
    spark.stop()


def _read(lake: Path, dataset: str) -> pl.DataFrame | None:
    files = sorted((lake / dataset / f"period={PERIOD}").glob("*.parquet"))
    if not files:
        return None
    frame = pl.read_parquet(files)
    return frame.sort(frame.columns, nulls_last=True)


def test_spark_and_local_rate_owner_changes_alike(tmp_path: Path, spark_engine: SparkEngine) -> None:
    op = tmp_path / "op"
    synthesize(op, subscribers=40, days=31, seed=3, start=date(2025, 3, 1))
    usage_home = tmp_path / "usage_home"
    ingest_files(sorted((op / "usage").iterdir()), settings=load_settings(home=usage_home), flush_partials=True)
    catalog = load_catalog(op / "catalog.toml")
    register = pl.read_csv(op / "subscribers.csv", schema_overrides={"msisdn": pl.String})
    # every other line changed owner on a day of the month, at local midnight
    since = [datetime(2025, 3, 2 + k % 27, tzinfo=CN).astimezone(UTC) if k % 2 else None for k in range(register.height)]
    subscribers = register.select("msisdn", "plan_id").with_columns(
        pl.Series("holder_since", since, dtype=pl.Datetime("us", "UTC")))
    lakes = {}
    for name, engine in (("local", LocalEngine()), ("spark", spark_engine),
                         ("local-workers", LocalEngine(workers=2, parallel_from=0))):
        home = tmp_path / name
        shutil.copytree(usage_home / "lake" / "usage", home / "lake" / "usage")
        settings = load_settings(home=home, batch_size=5_000)
        engine.rate_period(settings, PERIOD, catalog=catalog, subscribers=subscribers)
        lakes[name] = settings.lake_dir
    usage = pl.read_parquet(sorted((usage_home / "lake" / "usage" / f"period={PERIOD}").glob("*.parquet")))
    whole = rate(usage, catalog, subscribers, period=PERIOD).rated
    local = _read(lakes["local"], "rated")
    assert local is not None
    assert_frame_equal(local, whole.sort(whole.columns, nulls_last=True), check_exact=True)
    for other in ("spark", "local-workers"):
        for dataset in ("rated", "unrated"):
            theirs, ours = _read(lakes[other], dataset), _read(lakes["local"], dataset)
            assert (theirs is None) == (ours is None), dataset
            if theirs is not None and ours is not None:
                assert_frame_equal(theirs, ours, check_exact=True)
    # the owner changes made a difference: without them the month is charged more
    before = rate(usage, catalog, subscribers.drop("holder_since"), period=PERIOD).rated
    assert whole["amount_minor"].sum() < before["amount_minor"].sum()
