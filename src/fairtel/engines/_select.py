"""Choosing an engine from settings, and reading the feature datasets back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from fairtel.core.commits import Journal, can_finish, read_journal, shared_lock
from fairtel.core.settings import EngineKind, Settings
from fairtel.core.time import Period
from fairtel.engines._base import FEATURE_DATASETS, Engine, period_key
from fairtel.engines._commit import features_lock_name, lock, pending_commit, run_of
from fairtel.engines._local import LocalEngine
from fairtel.fraud import FeatureConfig, FraudFeatures


def engine_for(settings: Settings, **spark_options: Any) -> Engine:
    """The engine ``settings.engine`` names (``FAIRTEL_ENGINE``, ``--engine``). ``spark_options`` go to
    ``SparkEngine`` (``spark``, ``master``, ``lake_uri``, ``groups``, ``conf``: Spark options over the settings'
    ``spark_conf``, which a session the engine starts is built with). Close it when done."""
    if settings.engine is EngineKind.SPARK:
        from fairtel.engines._spark import SparkEngine

        return SparkEngine(**spark_options)
    return LocalEngine()


def read_features(lake: Path, period: Period | str, config: FeatureConfig | None = None) -> FraudFeatures:
    """The fraud features an engine wrote for ``period``, sorted as ``compute_features`` returns them: the
    three tables of one run (a swap in flight is waited for, one a crash interrupted is finished first).
    ``config``: the reading the engine computed them with (the tables do not keep it), so that the detectors'
    reasons state its durations.

    A reader that cannot write the lake (``can_finish``: a read-only mount, another OS user) takes no lock and
    finishes nothing: it reads each table where the pending commit's journal puts the run, the period or its
    staging directory, which is what the period holds once the commit is finished."""
    key = period_key(period)
    name = features_lock_name(key)
    dirs = {n: lake / dataset / f"period={key}" for n, dataset in FEATURE_DATASETS.items()}
    frames = _read_finishing(lake, name, dirs) if can_finish(lake) else _read_as_journal_says(lake, name, dirs)
    order = {"lines": ["msisdn"], "callers": ["peer"], "callbacks": ["started_at", "msisdn", "record_id"]}
    return FraudFeatures(**{n: f.sort(order[n]) if f.height else f for n, f in frames.items()}, config=config)


def _read_finishing(lake: Path, name: str, dirs: dict[str, Path]) -> dict[str, Any]:
    """The three tables of one run, a pending commit finished (or waited for) first under the lock."""
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
            return frames
    # runs swapping tables in all along: read under the lock (waits for the one running)
    with lock(lake, name):
        return _read_tables(dirs)


def _read_as_journal_says(lake: Path, name: str, dirs: dict[str, Path]) -> dict[str, Any]:
    """The three tables of one run for a reader that cannot take the lock: where the pending commit (if any)
    has its run, read again when a swap lands meanwhile; at last with the lock held shared, which waits for a
    commit in flight and keeps any other from moving a directory during the read."""
    for _ in range(_READ_ATTEMPTS):
        journal = read_journal(lake, name)
        where = _run_dirs(lake, dirs, journal)
        if where is None:  # the run moved on meanwhile (its commit finished, another began)
            continue
        runs = {run_of(d) for d in where.values()}
        try:
            frames = _read_tables(where)
        except FileNotFoundError:  # a part swapped out meanwhile
            continue
        again = read_journal(lake, name)
        if (len(runs) == 1 and {run_of(d) for d in where.values()} == runs
                and (None if again is None else again.run) == (None if journal is None else journal.run)):
            return frames
    with shared_lock(lake, name):
        where = _run_dirs(lake, dirs, read_journal(lake, name))
        return _read_tables(where if where is not None else dirs)


def _run_dirs(lake: Path, dirs: dict[str, Path], journal: Journal | None) -> dict[str, Path] | None:
    """Each table's directory: the period, or, a commit pending for it, whichever of the period and its staging
    directory holds the commit's run (None: neither does any more)."""
    if journal is None:
        return dirs
    out = {}
    for n, final in dirs.items():
        staging = journal.swaps.get(str(final.relative_to(lake)))
        if staging is None or run_of(final) == journal.run:
            out[n] = final
        elif run_of(lake / staging) == journal.run:
            out[n] = lake / staging
        else:
            return None
    return out


def _read_tables(dirs: dict[str, Path]) -> dict[str, Any]:
    frames = {}
    for n, d in dirs.items():
        files = sorted(d.glob("*.parquet"))
        frames[n] = pl.read_parquet(files) if files else pl.DataFrame()
    return frames


_READ_ATTEMPTS = 5  # reads of the three tables while a run swaps them in (each swap takes a few system calls)
