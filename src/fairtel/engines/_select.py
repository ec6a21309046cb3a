"""Choosing an engine from settings, and reading the feature datasets back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from fairtel.core.settings import EngineKind, Settings
from fairtel.core.time import Period
from fairtel.engines._base import FEATURE_DATASETS, Engine, period_key
from fairtel.engines._local import LocalEngine
from fairtel.fraud import FraudFeatures


def engine_for(settings: Settings, **spark_options: Any) -> Engine:
    """The engine ``settings.engine`` names (``FAIRTEL_ENGINE``, ``--engine``). ``spark_options`` go to
    ``SparkEngine`` (``spark``, ``master``, ``lake_uri``, ``groups``, ``conf``). Close it when done."""
    if settings.engine is EngineKind.SPARK:
        from fairtel.engines._spark import SparkEngine

        return SparkEngine(**spark_options)
    return LocalEngine()


def read_features(lake: Path, period: Period | str) -> FraudFeatures:
    """The fraud features an engine wrote for ``period``, sorted as ``compute_features`` returns them."""
    key = period_key(period)
    frames = {}
    for name, dataset in FEATURE_DATASETS.items():
        files = sorted((lake / dataset / f"period={key}").glob("*.parquet"))
        frames[name] = pl.read_parquet(files) if files else pl.DataFrame()
    order = {"lines": ["msisdn"], "callers": ["peer"], "callbacks": ["started_at", "msisdn", "record_id"]}
    return FraudFeatures(**{n: f.sort(order[n]) if f.height else f for n, f in frames.items()})
