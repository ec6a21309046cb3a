"""The local engine: Polars on this machine, the period read in hash groups of whole subscribers."""

from __future__ import annotations

import math
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq

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
from fairtel.engines._buckets import (
    PARALLEL_FROM,
    FeatureJob,
    RatingJob,
    feature_buckets,
    rate_buckets,
    split_subscribers,
    workers_for,
    write_part,
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
    RATING_USAGE_COLUMNS,
    SUMMARY_COLUMNS,
    add_summary,
    normalise_features,
)
from fairtel.fraud import USAGE_COLUMNS as FEATURE_USAGE_COLUMNS
from fairtel.fraud import FeatureConfig, FraudFeatures, cross_features
from fairtel.rating import normalise_subscribers

if TYPE_CHECKING:
    from fairtel.catalog import Catalog
    from fairtel.rating import VasGate


def usage_files(lake: Path, period: str) -> list[Path]:
    """The period's usage parts (hidden files are writes in flight)."""
    d = lake / USAGE / f"period={period}"
    return sorted(p for p in d.glob("*.parquet") if not p.name.startswith((".", "_"))) if d.is_dir() else []


class PeriodWriter:
    """Parts of one dataset period (added here or written into the staging directory by rating workers), staged
    in a hidden directory and swapped in whole by ``commit_period``: a rerun replaces the period (never adds to
    it), a reader sees the old set of parts or the new one, and a period without parts becomes an empty
    directory, never a missing one."""

    def __init__(self, lake: Path, dataset: str, period: str) -> None:
        self.final = lake / dataset / f"period={period}"
        self.staging = lake / dataset / f".period={period}.{uuid.uuid4().hex}.staging"
        self.parts = 0

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        write_part(frame, self.staging / f"part-{self.parts:05d}.parquet")
        self.parts += 1

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def commit_period(lake: Path, lock_name: str, writers: Sequence[PeriodWriter], usage: Sequence[Path]) -> str:
    """Swap the writers' staged parts in together (``_commit.commit``), under the lock ``lock_name`` the caller
    holds; returns the run's name."""
    return commit(lake, lock_name, [(w.staging, w.final) for w in writers], usage)


class LocalEngine:
    """Runs the kernels in this process. Memory follows ``batch_size`` (records per group of subscribers)."""

    name = "local"

    def __init__(self, workers: int = 0, parallel_from: int = PARALLEL_FROM) -> None:
        self.workers = workers  # processes for rating; 0: FAIRTEL_WORKERS (0 there: one per CPU)
        self.parallel_from = parallel_from  # smaller periods are rated in this process

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
        # from listing the usage to swapping the lines in: online rating of the period waits, and so does
        # another batch run of it (whose staging would otherwise be taken for a killed run's leftovers)
        with period_lock(settings.lake_dir, key):
            remove_leftovers(settings.lake_dir, (RATED, UNRATED), key)
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
        t0 = time.perf_counter()
        lake = settings.lake_dir
        files = usage_files(lake, key)
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        groups = max(1, math.ceil(rows / (batch_size or settings.batch_size))) if files else 0
        subs = normalise_subscribers(subscribers)  # checked once here, not once per bucket
        rated_out, unrated_out = PeriodWriter(lake, RATED, key), PeriodWriter(lake, UNRATED, key)
        job = RatingJob(catalog, key, split_subscribers(subs, groups), gate, RATING_USAGE_COLUMNS, rated_out.staging,
                        unrated_out.staging)
        spill = lake / RATED / f".period={key}.{uuid.uuid4().hex}.spill"
        step = None if report is None else (lambda: report.step("rate", total=groups))
        try:
            summaries = rate_buckets(files, groups, job, spill=spill, workers=workers_for(rows, self.workers or settings.workers, self.parallel_from),
                                     step=step)
        except BaseException:
            rated_out.abort()
            unrated_out.abort()
            raise
        # the lines and the unrated records go in together (a crash between the two swaps is finished by the
        # lock's next holder), with the manifest of the usage they rated, for online rating
        commit_period(lake, rating_lock_name(key), [rated_out, unrated_out], files)
        lines, unrated, by_kind, by_reason = add_summary(pl.concat(summaries) if summaries else pl.DataFrame(
            schema=SUMMARY_COLUMNS))
        return RateSummary(self.name, key, rows, groups, lines, unrated, catalog.operator.currency, by_kind, by_reason,
                           time.perf_counter() - t0)

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
        # two feature passes of a period wait for each other (the later one would take the earlier one's staging
        # for a killed run's leftovers); rating does not wait for them
        with features_lock(settings.lake_dir, key):
            remove_leftovers(settings.lake_dir, FEATURE_DATASETS.values(), key)
            for old in settings.lake_dir.glob(f".features-{key}-*.spill"):  # where earlier versions spilled
                shutil.rmtree(old, ignore_errors=True)
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
        t0 = time.perf_counter()
        lake = settings.lake_dir
        files = usage_files(lake, key)
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        cfg = config or FeatureConfig(tz=catalog.operator.timezone)
        counts = dict.fromkeys(FEATURE_DATASETS, 0)
        writers = {name: PeriodWriter(lake, ds, key) for name, ds in FEATURE_DATASETS.items()}
        # named like a staging directory, so that a killed run's spill is removed with its staging
        spill = lake / FEATURE_DATASETS["lines"] / f".period={key}.{uuid.uuid4().hex}.spill"
        try:
            if files:
                found = period_features(files, catalog=catalog, subscribers=subscribers, config=cfg,
                                        batch_size=batch_size or settings.batch_size,
                                        workers=self.workers or settings.workers, parallel_from=self.parallel_from,
                                        spill=spill)
                for name, writer in writers.items():
                    frame: pl.DataFrame = getattr(found, name)
                    writer.add(frame)
                    counts[name] = frame.height
        except BaseException:
            for writer in writers.values():
                writer.abort()
            raise
        commit_period(lake, features_lock_name(key), list(writers.values()), files)
        if report is not None:
            report.step("features", total=1)
        return FeatureSummary(self.name, key, rows, counts, time.perf_counter() - t0)

    def close(self) -> None:
        return None


def period_features(
    files: Sequence[Path], *, catalog: Catalog, subscribers: pl.DataFrame | None, config: FeatureConfig,
    batch_size: int, spill: Path, workers: int = 0, parallel_from: int = PARALLEL_FROM,
) -> FraudFeatures:
    """The fraud features of one period's usage parts: the aggregates that cross subscribers in one pass over the
    period, then the lines' features per hash bucket of whole subscribers (the period split once, the buckets
    computed by ``workers`` processes; 0: one per CPU). The same tables ``compute_features`` gives on the whole."""
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    scan = pl.scan_parquet(list(files), missing_columns="insert", extra_columns="ignore")
    names = scan.collect_schema().names()
    columns = tuple(c for c in FEATURE_USAGE_COLUMNS if c in names)
    cross = cross_features(scan.select(list(columns)), catalog=catalog, config=config)
    buckets = max(1, math.ceil(rows / batch_size))
    job = FeatureJob(catalog, config, subscribers, cross, columns)
    parts = feature_buckets(list(files), buckets, job, spill=spill, workers=workers_for(rows, workers, parallel_from))
    lines = pl.concat([p[0] for p in parts], how="diagonal_relaxed").sort("msisdn")
    callbacks = pl.concat([p[1] for p in parts], how="diagonal_relaxed").sort("started_at", "msisdn", "record_id")
    return normalise_features(FraudFeatures(lines=lines, callers=cross.callers.sort("peer"), callbacks=callbacks,
                                            config=config))
