"""The Spark engine against the local one: the same rated lines, unrated records and fraud features, column
for column, on a synthetic month ingested by mediation (several usage files per subscriber, so allowances
span files). Spark runs in local mode with one session for the module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

pytest.importorskip("pyspark")

from fairtel.catalog import Catalog, load_catalog
from fairtel.consent import project_subscriptions, read_consent_events
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import EngineKind, Settings, load_settings
from fairtel.engines import LocalEngine, RateSummary, SparkEngine, engine_for, read_features
from fairtel.engines._kernels import normalise_features
from fairtel.fraud import FeatureConfig, compute_features
from fairtel.mediation import ingest_files
from fairtel.rating import VasGate, consent_gate, rate
from fairtel.synth import synthesize

PERIOD = "2025-03"
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Operator:
    catalog: Catalog
    subscribers: pl.DataFrame
    gate: VasGate
    usage_home: Path  # a home whose lake holds only the ingested usage


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> Operator:
    root = tmp_path_factory.mktemp("spark_op")
    op = root / "op"
    synthesize(op, subscribers=150, days=31, seed=11, start=date(2025, 3, 1))
    home = root / "usage_home"
    ingest_files(sorted((op / "usage").iterdir()), settings=load_settings(home=home), flush_partials=True)
    catalog = load_catalog(op / "catalog.toml")
    subscribers = pl.read_csv(op / "subscribers.csv", schema_overrides={"msisdn": pl.String})
    # a roaming partner's records for numbers that are not ours: the engines must report them as unrated
    usage_dir = home / "lake" / "usage" / f"period={PERIOD}"
    sample = pl.read_parquet(sorted(usage_dir.glob("*.parquet"))[0]).head(40)
    foreign = sample.with_columns(pl.lit("8613999990000").alias("msisdn"), ("x-" + pl.col("record_id")).alias("record_id"))
    pq.write_table(foreign.to_arrow().cast(CLEAN_USAGE_SCHEMA), usage_dir / "foreign.parquet")
    events = read_consent_events([op / "consent" / "events.jsonl"]).events
    return Operator(catalog, subscribers, consent_gate(project_subscriptions(events), catalog), home)


def _home(operator: Operator, tmp_path: Path, name: str) -> Settings:
    home = tmp_path / name
    shutil.copytree(operator.usage_home / "lake" / "usage", home / "lake" / "usage")
    return load_settings(home=home, batch_size=20_000)


@pytest.fixture(scope="module")
def spark_engine() -> Iterator[SparkEngine]:
    from fairtel.engines import spark_session

    spark = spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2"})
    engine = SparkEngine(spark=spark, groups=5)
    yield engine
    spark.stop()


@dataclass(frozen=True)
class Run:
    settings: Settings
    rated: RateSummary


@pytest.fixture(scope="module")
def homes(operator: Operator, spark_engine: SparkEngine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Both engines, rating and features, run once on copies of the same lake."""
    tmp = tmp_path_factory.mktemp("engines")
    out = {}
    workers = LocalEngine(workers=2, parallel_from=0)  # worker processes however small the period
    for name, engine in (("local", LocalEngine()), ("spark", spark_engine), ("local-workers", workers)):
        settings = _home(operator, tmp, name)
        rated = engine.rate_period(settings, PERIOD, catalog=operator.catalog, subscribers=operator.subscribers,
                                   gate=operator.gate)
        engine.features(settings, PERIOD, catalog=operator.catalog, subscribers=operator.subscribers)
        out[name] = Run(settings, rated)
    return out


def _read(settings: Settings, dataset: str) -> pl.DataFrame:
    files = sorted((settings.lake_dir / dataset / f"period={PERIOD}").glob("*.parquet"))
    assert files, f"{dataset} has no parts in {settings.home}"
    frame = pl.read_parquet(files)
    return frame.sort(frame.columns, nulls_last=True)


def _usage(operator: Operator) -> pl.DataFrame:
    return pl.read_parquet(sorted((operator.usage_home / "lake" / "usage" / f"period={PERIOD}").glob("*.parquet")))


@pytest.mark.parametrize("dataset", ["rated", "unrated"])
def test_spark_writes_the_same_rows_as_local(homes: dict[str, Run], dataset: str) -> None:
    local, spark = _read(homes["local"].settings, dataset), _read(homes["spark"].settings, dataset)
    assert local.height > 0
    assert_frame_equal(spark, local, check_exact=True)


@pytest.mark.parametrize("dataset", ["rated", "unrated", "fraud_lines", "fraud_callers", "fraud_callbacks"])
def test_local_worker_processes_write_the_same_rows(homes: dict[str, Run], dataset: str) -> None:
    one, many = _read(homes["local"].settings, dataset), _read(homes["local-workers"].settings, dataset)
    assert one.height > 0
    assert_frame_equal(many, one, check_exact=True)
    assert homes["local-workers"].rated.to_dict() | {"seconds": 0} == homes["local"].rated.to_dict() | {"seconds": 0}
    lake = homes["local-workers"].settings.lake_dir
    assert not list(lake.glob(".*")) and not list((lake / "rated").glob(".*")), "staging or spill left behind"


def test_spark_rating_equals_one_kernel_call_over_the_whole_month(operator: Operator, homes: dict[str, Run]) -> None:
    whole = rate(_usage(operator), operator.catalog, operator.subscribers.select("msisdn", "plan_id"),
                 period=PERIOD, gate=operator.gate).rated
    assert_frame_equal(_read(homes["spark"].settings, "rated"), whole.sort(whole.columns, nulls_last=True), check_exact=True)
    assert whole.filter(pl.col("amount_minor") > 0).height > 0
    assert whole.filter(pl.col("allowance_id").is_not_null()).height > 0


def test_allowances_spanning_files_are_drawn_once(operator: Operator, homes: dict[str, Run]) -> None:
    """The month arrives in several files per subscriber; rating each file alone would restart every
    allowance, so its lines would differ from the engines' (which see a subscriber's whole month)."""
    files = sorted((operator.usage_home / "lake" / "usage" / f"period={PERIOD}").glob("*.parquet"))
    assert len(files) >= 3
    spread = pl.concat([pl.read_parquet(f, columns=["msisdn"]).unique().with_columns(pl.lit(i).alias("file"))
                        for i, f in enumerate(files)])
    spanning = spread.group_by("msisdn").agg(pl.col("file").n_unique().alias("n")).filter(pl.col("n") > 1)
    assert spanning.height > 0

    per_file = pl.concat([
        rate(pl.read_parquet(f), operator.catalog, operator.subscribers.select("msisdn", "plan_id"), period=PERIOD,
             gate=operator.gate).rated
        for f in files
    ])
    spark = _read(homes["spark"].settings, "rated")
    used = lambda f: f.filter(pl.col("allowance_id").is_not_null()).group_by("msisdn", "allowance_id").agg(  # noqa: E731
        pl.col("allowance_used").sum(), pl.col("allowance_before").max())
    both = used(spark).join(used(per_file), on=["msisdn", "allowance_id"], suffix="_per_file")
    # the first line drawn from a later file starts where the earlier files left the allowance
    assert both.filter(pl.col("allowance_before") > pl.col("allowance_before_per_file")).height > 0
    # ... and plans' caps bind on the month, not on each file: the month never draws more than one file each
    assert spark["amount_minor"].sum() >= per_file["amount_minor"].sum()


def test_summaries_agree(operator: Operator, homes: dict[str, Run]) -> None:
    local, spark = homes["local"].rated.to_dict(), homes["spark"].rated.to_dict()
    assert (local.pop("engine"), spark.pop("engine")) == ("local", "spark")
    for k in ("seconds", "batches"):
        local.pop(k), spark.pop(k)
    assert spark == local
    assert spark["records"] == _usage(operator).height
    assert spark["unrated_by_reason"] == {"unknown_subscriber": 40}


def test_rerun_replaces_the_period(operator: Operator, spark_engine: SparkEngine, homes: dict[str, Run]) -> None:
    settings = homes["spark"].settings
    before = _read(settings, "rated")
    again = spark_engine.rate_period(settings, PERIOD, catalog=operator.catalog, subscribers=operator.subscribers,
                                     gate=operator.gate)
    assert again.lines == homes["spark"].rated.lines > 0
    rated = settings.lake_dir / "rated"
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in (rated / f"period={PERIOD}").glob("*.parquet"))
    assert rows == again.lines
    assert [p.name for p in rated.iterdir()] == [f"period={PERIOD}"]  # no staging or old directories left
    assert_frame_equal(_read(settings, "rated"), before, check_exact=True)


@pytest.mark.parametrize("table", ["lines", "callers", "callbacks"])
def test_spark_features_equal_local(homes: dict[str, Run], table: str) -> None:
    local = getattr(read_features(homes["local"].settings.lake_dir, PERIOD), table)
    spark = getattr(read_features(homes["spark"].settings.lake_dir, PERIOD), table)
    assert local.height > 0
    assert_frame_equal(spark, local, check_exact=True)


def test_features_equal_the_kernel_on_the_whole_month(operator: Operator, homes: dict[str, Run]) -> None:
    """Including the two aggregates across subscribers, which Spark computes on groups of devices and peers."""
    whole = normalise_features(compute_features(_usage(operator), catalog=operator.catalog,
                                                subscribers=operator.subscribers,
                                                config=FeatureConfig(tz=operator.catalog.operator.timezone)))
    spark = read_features(homes["spark"].settings.lake_dir, PERIOD)
    assert_frame_equal(spark.lines, whole.lines, check_exact=True)
    assert_frame_equal(spark.callers, whole.callers, check_exact=True)
    assert whole.lines["sims_per_imei"].max() > 1  # SIM-boxes: devices shared by lines in different groups
    assert whole.callers.height > 0


def test_engine_for_follows_settings(tmp_path: Path) -> None:
    assert isinstance(engine_for(load_settings(home=tmp_path)), LocalEngine)
    spark = engine_for(load_settings(home=tmp_path, engine=EngineKind.SPARK), master="local[1]")
    assert isinstance(spark, SparkEngine)
    assert spark.lake_uri(load_settings(home=tmp_path)) == (tmp_path / "lake").resolve().as_uri()


def test_a_period_without_usage_clears_its_old_results(operator: Operator, spark_engine: SparkEngine,
                                                       tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "empty")
    (settings.lake_dir / "usage" / f"period={PERIOD}").mkdir(parents=True)  # present, but no parts yet
    stale = settings.lake_dir / "rated" / f"period={PERIOD}"
    stale.mkdir(parents=True)
    pl.DataFrame({"record_id": ["old"]}).write_parquet(stale / "part-00000.parquet")
    summary = spark_engine.rate_period(settings, PERIOD, catalog=operator.catalog, subscribers=operator.subscribers)
    assert (summary.records, summary.lines) == (0, 0)
    assert not list(stale.glob("*.parquet"))
