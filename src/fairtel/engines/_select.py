"""Choosing an engine from settings, and reading the feature datasets back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from fairtel.core.settings import EngineKind, Settings
from fairtel.core.time import Period
from fairtel.engines._base import FEATURE_DATASETS, Engine, period_key
from fairtel.engines._commit import features_lock_name, lock, pending_commit, run_of
from fairtel.engines._local import LocalEngine
from fairtel.fraud import FeatureConfig, FraudFeatures


def engine_for(settings: Settings, **spark_options: Any) -> Engine:
    """The engine ``settings.engine`` names (``FAIRTEL_ENGINE``, ``--engine``). ``spark_options`` go to
    ``SparkEngine`` (``spark``, ``master``, ``lake_uri``, ``groups``, ``conf``). Close it when done."""
    if settings.engine is EngineKind.SPARK:
        from fairtel.engines._spark import SparkEngine

        return SparkEngine(**spark_options)
    return LocalEngine()


def read_features(lake: Path, period: Period | str, config: FeatureConfig | None = None) -> FraudFeatures:
    """The fraud features an engine wrote for ``period``, sorted as ``compute_features`` returns them: the
    three tables of one run (a swap in flight is waited for, one a crash interrupted is finished first).
    ``config``: the reading the engine computed them with (the tables do not keep it), so that the detectors'
    reasons state its durations."""
    key = period_key(period)
    name = features_lock_name(key)
    dirs = {n: lake / dataset / f"period={key}" for n, dataset in FEATURE_DATASETS.items()}
    frames: dict[str, Any] = {}
    for _ in range(_READ_ATTEMPTS):
        if pending_commit(lake, name):
            with lock(lake, name):  # held only for the swaps now, or by no one after a crash
                pass
        runs = {run_of(d) for d in dirs.values()}
        try:
            frames = _read_tables(dirs)
        except FileNotFoundError:  # a part the run swapped out meanwhile
            continue
        if len(runs) == 1 and {run_of(d) for d in dirs.values()} == runs:
            break
    else:  # runs swapping tables in all along: read under the lock (waits for the one running)
        with lock(lake, name):
            frames = _read_tables(dirs)
    order = {"lines": ["msisdn"], "callers": ["peer"], "callbacks": ["started_at", "msisdn", "record_id"]}
    return FraudFeatures(**{n: f.sort(order[n]) if f.height else f for n, f in frames.items()}, config=config)


def _read_tables(dirs: dict[str, Path]) -> dict[str, Any]:
    frames = {}
    for n, d in dirs.items():
        files = sorted(d.glob("*.parquet"))
        frames[n] = pl.read_parquet(files) if files else pl.DataFrame()
    return frames


_READ_ATTEMPTS = 5  # reads of the three tables while a run swaps them in (each swap takes a few system calls)
