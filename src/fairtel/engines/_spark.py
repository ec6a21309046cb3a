"""The Spark engine: the same kernels, applied with Arrow grouped maps to groups of whole subscribers.

The period's usage is read from the lake with Spark, hashed on the msisdn into groups (one group is what the
local engine calls a batch), shuffled so that every record of a subscriber lands in one group, and each
group is handed as one Arrow table to the kernel (``groupBy(...).applyInArrow`` or, with the subscribers
partitioned the same way, ``cogroup(...).applyInArrow``). The catalog and the consent gate travel inside the
function's closure (Spark broadcasts a large one). Results are written as Parquet to a hidden staging
directory and swapped in whole, so a rerun or a retried job replaces the period and a failed one leaves the
previous result in place.

On a lake on this machine's file system (the home's, by default) the run gives the local engine's guarantees
with the same helpers (``_commit``): it holds the period's rating lock (or the feature pass's) from listing the
usage to the swap, reads exactly the parts it listed, removes a killed run's staging, swaps each dataset in with
one exchange, all of a run's datasets together (a journal finishes a swap a crash interrupted), and writes the
manifest ``_batch.json`` that online rating reads. On another file system (HDFS, S3A: a ``lake_uri`` of the
cluster) there is no lock nor exchange: each dataset is swapped in with two renames through Hadoop's file
system, one dataset after the other.

pyspark is an optional dependency (the ``spark`` extra: docs/operations.md, "Installing and upgrading"); it is
imported only here.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse
from urllib.request import url2pathname

import polars as pl
import pyarrow as pa

from fairtel.core.commits import fsync_dir
from fairtel.core.errors import ConfigError, EngineFailedError
from fairtel.core.settings import Settings
from fairtel.core.time import Period
from fairtel.engines._base import (
    FEATURE_DATASETS,
    RATED,
    UNRATED,
    USAGE,
    FeatureSummary,
    Progress,
    RateSummary,
    period_key,
)
from fairtel.engines._commit import (
    commit,
    features_lock,
    features_lock_name,
    period_lock,
    rating_lock_name,
    remove_leftovers,
)
from fairtel.engines._kernels import (
    OUT,
    RATING_OUTPUTS,
    RATING_USAGE_COLUMNS,
    SIMS,
    Schema,
    add_summary,
    caller_group,
    feature_group,
    feature_schemas,
    rate_group,
    rating_summary,
    sims_group,
    tag,
    tagged_schema,
)
from fairtel.engines._local import usage_files
from fairtel.fraud import USAGE_COLUMNS as FEATURE_USAGE_COLUMNS
from fairtel.fraud import FeatureConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from fairtel.catalog import Catalog
    from fairtel.rating import VasGate

GROUP = "_group"
# Spark defaults that matter for the lake: UTC session clock (timestamps reach the kernels as UTC) and
# Parquet timestamps as INT64 microseconds (what pyarrow, Polars and DuckDB read as timestamp[us, UTC]).
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.sql.adaptive.enabled": "true",
}


def _spark_type(dtype: pl.DataType) -> str:
    if dtype == pl.String:
        return "string"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Int32:
        return "int"
    if dtype == pl.Int64:
        return "bigint"
    if dtype == pl.Float64:
        return "double"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    raise ConfigError(f"no Spark type for {dtype}")


def spark_schema(schema: Schema) -> StructType:
    from pyspark.sql.types import StructType, _parse_datatype_string

    struct = _parse_datatype_string(", ".join(f"`{c}` {_spark_type(t)}" for c, t in schema.items()))
    assert isinstance(struct, StructType)
    return struct


def engine_failure(exc: BaseException) -> EngineFailedError | None:
    """``exc`` as one line when Spark or its gateway raised it (a master that cannot be reached, a job whose task
    failed: hundreds of lines of the JVM's stack otherwise), else None. The lake is left as it was: the job writes
    to a staging directory swapped in only when it succeeds."""
    if not type(exc).__module__.startswith(("py4j", "pyspark")):
        return None
    text = str(exc).strip()
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return EngineFailedError(f"the Spark job failed: {first[:500]} (the previous rated period is unchanged; the "
                             "Spark driver's log has the whole error)", details={"error": type(exc).__name__})


def spark_session(
    master: str | None = None, *, app_name: str = "fairtel", conf: Mapping[str, str] | None = None
) -> SparkSession:
    """A Spark session with the settings the engine relies on.

    Under ``spark-submit`` the master comes from the submit command; elsewhere from ``master`` (for example
    ``local[2]``), and Python workers run this interpreter. ``conf`` goes over spark-defaults.conf (and over a
    submit command's ``--conf``). A new session on a ``local[N]`` master with no shuffle partitions set anywhere
    gets 2 x N of them (``_local_partitions``).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError("engine=spark needs pyspark (and Java 17 or later): install the spark extra, "
                          "`uv sync --extra spark` in a checkout or the wheel's `[spark]` (docs/operations.md, "
                          "Installing and upgrading)") from exc
    builder = SparkSession.builder.appName(app_name)
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if master and not submitted:
        builder = builder.master(master)
        if master.startswith("local"):
            # the workers must run this interpreter (and see fairtel); Spark reads the variable at start
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    for k, v in {**BASE_CONF, **(conf or {})}.items():
        builder = builder.config(k, v)
    from pyspark import SparkContext

    started = SparkContext._active_spark_context is None
    spark = builder.getOrCreate()
    if started and SHUFFLE_PARTITIONS not in (conf or {}):
        _local_partitions(spark)
    return spark


SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
LOCAL_PARTITIONS_PER_CORE = 2  # docs/operations.md, "Partitioning and sizing": 2-3 x the cores


def local_cores(master: str) -> int | None:
    """The cores of a ``local``, ``local[N]``, ``local[*]`` or ``local[N,F]`` master, else None (a cluster)."""
    match = re.fullmatch(r"local(?:\[\s*(\*|\d+)\s*(?:,\s*\d+\s*)?\])?", master.strip())
    if match is None:
        return None
    given = match.group(1)
    if given is None:
        return 1
    return (os.cpu_count() or 1) if given == "*" else max(int(given), 1)


def _local_partitions(spark: SparkSession) -> None:
    """On a ``local[N]`` master whose launch set no shuffle partitions (``spark_conf``, spark-defaults.conf, a
    submit command's ``--conf``): 2 x N, not Spark's 200, which on one machine makes hundreds of tiny groups
    (at least twice the partitions: ``_group_count``) whose fixed costs dominate the run."""
    cores = local_cores(spark.sparkContext.master or "")
    if cores is not None and not spark.sparkContext.getConf().contains(SHUFFLE_PARTITIONS):
        spark.conf.set(SHUFFLE_PARTITIONS, str(LOCAL_PARTITIONS_PER_CORE * cores))


def _arrow_target(spark: SparkSession, struct: StructType) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    large = str(spark.conf.get("spark.sql.execution.arrow.useLargeVarTypes", "false")).lower() == "true"
    return to_arrow_schema(struct, timezone="UTC", prefers_large_types=large)


def _to_arrow(frame: pl.DataFrame, target: pa.Schema) -> pa.Table:
    return frame.to_arrow().select(target.names).cast(target)


def _frame(table: pa.Table) -> pl.DataFrame:
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out.drop(GROUP, strict=False)


class _HadoopFs:
    """Renames and deletes through Hadoop's FileSystem, so the commit works on a local disk, HDFS or S3A."""

    def __init__(self, spark: SparkSession, uri: str) -> None:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        self._path = jvm.org.apache.hadoop.fs.Path
        self._fs = self._path(uri).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def exists(self, uri: str) -> bool:
        return bool(self._fs.exists(self._path(uri)))

    def rename(self, src: str, dst: str) -> None:
        if not self._fs.rename(self._path(src), self._path(dst)):
            raise OSError(f"could not rename {src} to {dst}")

    def has_parts(self, uri: str) -> bool:
        """True when the directory holds a visible Parquet part (hidden ones are writes in flight)."""
        found = self._fs.globStatus(self._path(f"{uri}/*.parquet")) or []
        return any(not s.getPath().getName().startswith((".", "_")) for s in found)

    def delete(self, uri: str) -> None:
        self._fs.delete(self._path(uri), True)


class SparkEngine:
    """Runs the kernels on a Spark cluster (or ``local[N]``).

    ``spark``: an existing session (else one is built from ``master`` or ``settings.spark_master``).
    ``lake_uri``: the lake as Spark sees it (default: ``settings.lake_dir`` as a file URI; on a cluster, for
    example ``hdfs:///fairtel/lake``). ``groups``: the number of subscriber groups (default: records /
    batch size, at least twice the shuffle partitions). ``conf``: extra Spark settings for a new session, over
    the settings' ``spark_conf``.
    """

    name = "spark"

    def __init__(
        self,
        *,
        spark: SparkSession | None = None,
        master: str | None = None,
        lake_uri: str | None = None,
        groups: int | None = None,
        conf: Mapping[str, str] | None = None,
    ) -> None:
        self._spark = spark
        self._own = spark is None
        self._master = master
        if lake_uri is not None and not urlparse(lake_uri).scheme:
            # Spark reads a bare path on its default file system (HDFS on most clusters, the local disk in local
            # mode): which one it is decides whether the period's lock, the exchange and the manifests apply, so
            # the address must say it
            raise ConfigError(f"the lake address {lake_uri!r} names no file system: give it as a URI, "
                              f"file://{Path(lake_uri).absolute()} for a disk of this machine, or hdfs://…, s3a://…")
        self._lake_uri = lake_uri
        self._groups = groups
        self._conf = dict(conf or {})

    # --- plumbing ------------------------------------------------------------------------------------
    def session(self, settings: Settings) -> SparkSession:
        if self._spark is None:
            # the settings' Spark options (``spark_conf``) under the ones given to the engine
            self._spark = spark_session(self._master or settings.spark_master,
                                        conf={**settings.spark_conf, **self._conf})
        return self._spark

    def close(self) -> None:
        if self._spark is not None and self._own:
            self._spark.stop()
        self._spark = None

    def lake_uri(self, settings: Settings) -> str:
        return (self._lake_uri or settings.lake_dir.resolve().as_uri()).rstrip("/")

    def local_lake(self, settings: Settings) -> Path | None:
        """The lake as a path of this machine when Spark sees it through a ``file:`` URI (then locks, exchanges
        and manifests work on it), else None."""
        uri = urlparse(self.lake_uri(settings))
        return Path(url2pathname(uri.path)) if uri.scheme == "file" and uri.netloc in ("", "localhost") else None

    @staticmethod
    @contextmanager
    def _held(lake: Path | None, lock: Callable[[Path, str], AbstractContextManager[None]], datasets: Sequence[str],
              key: str) -> Iterator[None]:
        """The period's lock (``lock``) for a run on a local lake, a killed run's leftovers removed under it."""
        if lake is None:
            yield
            return
        with lock(lake, key):
            remove_leftovers(lake, datasets, key)
            yield

    def _group_count(self, spark: SparkSession, rows: int, batch_size: int) -> int:
        if self._groups:
            return self._groups
        partitions = int(spark.conf.get(SHUFFLE_PARTITIONS, "200") or 200)
        return max(2 * partitions, -(-rows // batch_size))

    def _usage(self, spark: SparkSession, settings: Settings, key: str,
               columns: Sequence[str]) -> tuple[DataFrame | None, list[Path]]:
        """The period's usage, and on a local lake the parts listed and read (exactly those: a part committed
        meanwhile is not rated by this run, and the manifest names what was)."""
        uri = f"{self.lake_uri(settings)}/{USAGE}/period={key}"
        lake = self.local_lake(settings)
        if lake is not None:
            files = usage_files(lake, key)
            if not files:
                return None, []
            df = spark.read.option("basePath", _file_uri(files[0].parent)).parquet(*(_file_uri(f) for f in files))
        else:
            if not _HadoopFs(spark, uri).has_parts(uri):
                return None, []
            files, df = [], spark.read.parquet(uri)
        return df.select([c for c in columns if c in df.columns]), files

    def _write(self, spark: SparkSession, settings: Settings, datasets: Mapping[str, tuple[DataFrame | None, int]],
               key: str, *, lock_name: str, usage: Sequence[Path]) -> None:
        """Write each dataset's rows to staging, then swap every period in: on a local lake all together with
        the manifest of the ``usage`` read (``_commit.commit``, under the lock ``lock_name`` the caller holds), a
        dataset without rows as an empty period; elsewhere one after the other, a dataset without rows losing
        its period."""
        lake = self.local_lake(settings)
        if lake is not None:
            swaps = [(lake / dataset / f".period={key}.{uuid.uuid4().hex}.staging", lake / dataset / f"period={key}")
                     for dataset in datasets]
            try:
                for (df, count), (staging, _) in zip(datasets.values(), swaps, strict=True):
                    if df is not None and count:
                        df.write.mode("overwrite").parquet(_file_uri(staging))
                for staging, _ in swaps:  # on disk before the swap makes them the period
                    _fsync_tree(staging)
            except BaseException:
                for staging, _ in swaps:
                    shutil.rmtree(staging, ignore_errors=True)
                raise
            commit(lake, lock_name, swaps, usage)
        else:
            self._write_remote(spark, settings, datasets, key)

    def _write_remote(self, spark: SparkSession, settings: Settings,
                      datasets: Mapping[str, tuple[DataFrame | None, int]], key: str) -> None:
        """``_write`` on a lake of the cluster's file system: two renames per dataset through Hadoop's."""
        base = self.lake_uri(settings)
        fs = _HadoopFs(spark, base)
        staged: dict[str, str] = {}
        try:
            for dataset, (df, count) in datasets.items():
                staging = f"{base}/{dataset}/.period={key}.{uuid.uuid4().hex}.staging"
                if df is not None and count:
                    df.write.mode("overwrite").parquet(staging)
                staged[dataset] = staging
            for dataset, staging in staged.items():
                final = f"{base}/{dataset}/period={key}"
                old = f"{base}/{dataset}/.period={key}.{uuid.uuid4().hex}.old"
                if fs.exists(final):
                    fs.rename(final, old)
                if fs.exists(staging):
                    fs.rename(staging, final)
                fs.delete(old)
        finally:
            for staging in staged.values():
                fs.delete(staging)

    @staticmethod
    def _grouped(df: DataFrame, column: str, groups: int) -> DataFrame:
        from pyspark.sql import functions as F

        return df.withColumn(GROUP, F.pmod(F.xxhash64(column), F.lit(groups)))

    @staticmethod
    def _untag(df: DataFrame, index: int, output: Schema) -> DataFrame:
        from pyspark.sql import functions as F

        return df.filter(F.col(OUT) == index).select([F.col(f"o{index}_{c}").alias(c) for c in output])

    # --- rating --------------------------------------------------------------------------------------
    def rate_period(
        self,
        settings: Settings,
        period: Period | str,
        *,
        catalog: Catalog,
        subscribers: pl.DataFrame,
        gate: VasGate | None = None,
        batch_size: int | None = None,
        report: Progress | None = None,
    ) -> RateSummary:
        key = period_key(period)
        # from listing the usage to swapping the lines in, as the local engine: online rating of the period waits
        with self._held(self.local_lake(settings), period_lock, (RATED, UNRATED), key):
            return self._rate_period(settings, key, catalog=catalog, subscribers=subscribers, gate=gate,
                                     batch_size=batch_size, report=report)

    def _rate_period(
        self,
        settings: Settings,
        key: str,
        *,
        catalog: Catalog,
        subscribers: pl.DataFrame,
        gate: VasGate | None,
        batch_size: int | None,
        report: Progress | None,
    ) -> RateSummary:
        from pyspark import StorageLevel

        t0 = time.perf_counter()
        spark = self.session(settings)
        usage, files = self._usage(spark, settings, key, RATING_USAGE_COLUMNS)
        currency = catalog.operator.currency
        lock_name = rating_lock_name(key)
        if usage is None:
            self._write(spark, settings, {RATED: (None, 0), UNRATED: (None, 0)}, key, lock_name=lock_name, usage=files)
            return RateSummary(self.name, key, 0, 0, 0, 0, currency, seconds=time.perf_counter() - t0)
        rows = usage.count()
        groups = self._group_count(spark, rows, batch_size or settings.batch_size)
        if report is not None:
            report.note(f"spark: {rows:,} records of {key} in {groups} groups of subscribers")
        subs = spark.createDataFrame(_plans(subscribers).to_arrow())
        struct = spark_schema(tagged_schema(RATING_OUTPUTS))
        target = _arrow_target(spark, struct)

        def rate_one(usage_t: pa.Table, subs_t: pa.Table) -> pa.Table:
            rated, unrated = rate_group(_frame(usage_t), catalog=catalog, period=key, gate=gate, subscribers=_frame(subs_t))
            return _to_arrow(tag([rated, unrated, rating_summary(rated, unrated)], RATING_OUTPUTS), target)

        out = (
            self._grouped(usage, "msisdn", groups).groupBy(GROUP)
            .cogroup(self._grouped(subs, "msisdn", groups).groupBy(GROUP))
            .applyInArrow(rate_one, struct)
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        try:
            summary = pl.from_arrow(self._untag(out, 2, RATING_OUTPUTS[2]).toArrow())
            assert isinstance(summary, pl.DataFrame)
            lines, unrated, by_kind, by_reason = add_summary(summary)
            self._write(spark, settings, {
                RATED: (self._untag(out, 0, RATING_OUTPUTS[0]), lines),
                UNRATED: (self._untag(out, 1, RATING_OUTPUTS[1]), unrated),
            }, key, lock_name=lock_name, usage=files)
        finally:
            out.unpersist()
        if report is not None:
            report.step("rate", total=1)
        return RateSummary(self.name, key, rows, groups, lines, unrated, currency, by_kind, by_reason,
                           time.perf_counter() - t0)

    # --- fraud features ------------------------------------------------------------------------------
    def features(
        self,
        settings: Settings,
        period: Period | str,
        *,
        catalog: Catalog,
        subscribers: pl.DataFrame | None = None,
        config: FeatureConfig | None = None,
        batch_size: int | None = None,
        report: Progress | None = None,
    ) -> FeatureSummary:
        key = period_key(period)
        with self._held(self.local_lake(settings), features_lock, tuple(FEATURE_DATASETS.values()), key):
            return self._features(settings, key, catalog=catalog, subscribers=subscribers, config=config,
                                  batch_size=batch_size, report=report)

    def _features(
        self,
        settings: Settings,
        key: str,
        *,
        catalog: Catalog,
        subscribers: pl.DataFrame | None,
        config: FeatureConfig | None,
        batch_size: int | None,
        report: Progress | None,
    ) -> FeatureSummary:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        t0 = time.perf_counter()
        spark = self.session(settings)
        cfg = config or FeatureConfig(tz=catalog.operator.timezone)
        usage, files = self._usage(spark, settings, key, FEATURE_USAGE_COLUMNS)
        lock_name = features_lock_name(key)
        if usage is None:
            self._write(spark, settings, {ds: (None, 0) for ds in FEATURE_DATASETS.values()}, key,
                        lock_name=lock_name, usage=files)
            return FeatureSummary(self.name, key, 0, dict.fromkeys(FEATURE_DATASETS, 0), time.perf_counter() - t0)
        rows = usage.count()
        groups = self._group_count(spark, rows, batch_size or settings.batch_size)
        schemas = feature_schemas(catalog, cfg)
        outputs = (schemas["lines"], schemas["callbacks"])
        struct = spark_schema(tagged_schema(outputs))
        target = _arrow_target(spark, struct)

        # per line and its callbacks: groups of whole subscribers
        grouped = self._grouped(usage, "msisdn", groups).groupBy(GROUP)
        subs = None if subscribers is None else spark.createDataFrame(_activation(subscribers).to_arrow())
        if subs is None:
            def lines_one(usage_t: pa.Table) -> pa.Table:
                return _to_arrow(tag(feature_group(_frame(usage_t), catalog=catalog, config=cfg), outputs), target)

            tagged = grouped.applyInArrow(lines_one, struct)
        else:
            def lines_subs(usage_t: pa.Table, subs_t: pa.Table) -> pa.Table:
                found = feature_group(_frame(usage_t), catalog=catalog, config=cfg, subscribers=_frame(subs_t))
                return _to_arrow(tag(found, outputs), target)

            tagged = grouped.cogroup(self._grouped(subs, "msisdn", groups).groupBy(GROUP)).applyInArrow(lines_subs, struct)
        tagged = tagged.persist(StorageLevel.MEMORY_AND_DISK)

        # SIMs per device: groups of whole devices, each line with when it was last seen in the device and, with the
        # subscribers, its holding (a line counts the devices of its current holding, and in them the lines seen
        # since it began: the kernel's ``sims_group``), then the largest count per line
        pairs = (usage.filter(F.col("imei").isNotNull()).groupBy("imei", "msisdn")
                 .agg(F.max("started_at").alias("last_at")))
        if subs is not None:
            pairs = pairs.join(subs, on="msisdn", how="left")
        sims_struct = spark_schema({"msisdn": pl.String(), SIMS: pl.Int64()})
        sims_target = _arrow_target(spark, sims_struct)
        sims = self._grouped(pairs, "imei", groups).groupBy(GROUP).applyInArrow(
            _kernel(lambda t: sims_group(_frame(t), catalog=catalog, config=cfg), sims_target), sims_struct
        ).groupBy("msisdn").agg(F.max(SIMS).alias(SIMS))
        lines = self._untag(tagged, 0, outputs[0])
        lines = lines.drop(SIMS).join(sims, on="msisdn", how="left").fillna(0, subset=[SIMS]).select(list(outputs[0]))

        # international callers: groups of peers, each with every incoming call it made
        caller_struct = spark_schema(schemas["callers"])
        caller_target = _arrow_target(spark, caller_struct)
        incoming = usage.filter((F.col("kind") == "voice") & (F.col("direction") == "in") & F.col("peer").isNotNull())
        callers = self._grouped(incoming, "peer", groups).groupBy(GROUP).applyInArrow(
            _kernel(lambda t: caller_group(_frame(t), catalog=catalog, config=cfg), caller_target), caller_struct
        ).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            counts: dict[int, int] = {int(r[0]): int(r[1]) for r in tagged.groupBy(OUT).count().collect()}
            rows_out = {"lines": counts.get(0, 0), "callers": callers.count(), "callbacks": counts.get(1, 0)}
            frames = {"lines": lines, "callers": callers, "callbacks": self._untag(tagged, 1, outputs[1])}
            self._write(spark, settings, {FEATURE_DATASETS[n]: (frames[n], rows_out[n]) for n in FEATURE_DATASETS}, key,
                        lock_name=lock_name, usage=files)
        finally:
            tagged.unpersist()
            callers.unpersist()
        if report is not None:
            report.step("features", total=1)
        return FeatureSummary(self.name, key, rows, rows_out, time.perf_counter() - t0)


def _fsync_tree(directory: Path) -> None:
    """Every file and directory Spark wrote under ``directory``, and its entry in its parent, flushed to disk.
    Spark's Parquet writers close their files without syncing them: swapped in as they are, a power cut soon
    after the commit could leave the period with parts missing or cut short."""
    if not directory.is_dir():
        return
    for root, _, files in os.walk(directory, topdown=False):
        for name in files:
            fd = os.open(Path(root) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))
    fsync_dir(directory.parent)  # the staging directory's entry in the dataset
    fsync_dir(directory.parent.parent)  # the dataset's entry in the lake, when Spark made it


def _file_uri(path: Path) -> str:
    """``path`` as Hadoop reads a local path: not percent-encoded (``as_uri`` would turn the ``=`` of
    ``period=`` into a directory name of its own)."""
    return f"file://{path.resolve()}"


def _kernel(fn: Callable[[pa.Table], pl.DataFrame], target: pa.Schema) -> Callable[[pa.Table], pa.Table]:
    def run(table: pa.Table) -> pa.Table:
        return _to_arrow(fn(table), target)

    return run


def _plans(subscribers: pl.DataFrame) -> pl.DataFrame:
    """(msisdn, plan_id, holder_since when given) for rating: ``holder_since`` (an owner change, 过户) as UTC
    microseconds (text read as an instant, naive as the UTC wall clock), so that the kernel counts allowances per
    holding as the local engine does."""
    frame = subscribers.select(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String),
                               *(["holder_since"] if "holder_since" in subscribers.columns else []))
    if "holder_since" not in frame.columns:
        return frame
    since, dtype = pl.col("holder_since"), frame.schema["holder_since"]
    if dtype == pl.String:
        since = since.str.to_datetime(time_zone="UTC", time_unit="us")
    elif isinstance(dtype, pl.Datetime):
        since = (since.dt.replace_time_zone("UTC") if dtype.time_zone is None else since.dt.convert_time_zone("UTC"))
    return frame.with_columns(since.cast(pl.Datetime("us", "UTC")).alias("holder_since"))


def _activation(subscribers: pl.DataFrame) -> pl.DataFrame:
    """(msisdn, activated_at, holder_since when given) as Spark can carry them: timestamps as UTC microseconds, text
    stays text (the kernel parses it), a column without a value as a null timestamp. ``holder_since``: when the
    line's current customer began to hold it (an owner change, the activation kept); the kernel starts the line's
    features and age at the later of the two."""
    columns = [c for c in ("activated_at", "holder_since") if c in subscribers.columns]
    frame = subscribers.select(pl.col("msisdn").cast(pl.String), *columns)
    for column in columns:
        dtype = frame.schema[column]
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone is None:
                raise ConfigError(f"subscribers.{column} has no time zone")
            frame = frame.with_columns(pl.col(column).dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
        elif dtype == pl.Null:
            frame = frame.with_columns(pl.col(column).cast(pl.Datetime("us", "UTC")))
    return frame
