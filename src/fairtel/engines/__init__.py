"""engines: where the kernels run. See README.md in this folder.

Owns running the rating and fraud-feature kernels over a period of the lake, on this machine (``LocalEngine``)
or on Spark (``SparkEngine``, needs the ``spark`` extra; pyspark is imported only when a session starts),
behind one interface (``Engine``). Does not own any pricing or feature logic (rating/, fraud/), nor the
database (store/): the caller hands in the catalog, the subscribers and the consent gate.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fairtel.engines._base import FEATURE_DATASETS, Engine, FeatureSummary, Progress, RateSummary
    from fairtel.engines._local import LocalEngine, period_features
    from fairtel.engines._online import ArrivedFile, OnlineRater, OnlineResult, timeliness
    from fairtel.engines._select import engine_for, read_features
    from fairtel.engines._spark import SparkEngine, spark_session

# imported when first named: a rating worker process imports ``fairtel.engines._buckets``, hence this package,
# and needs none of the engines (their imports cost a worker about a tenth of a second)
_FROM = {
    "FEATURE_DATASETS": "_base", "Engine": "_base", "FeatureSummary": "_base", "Progress": "_base",
    "RateSummary": "_base", "LocalEngine": "_local", "period_features": "_local", "ArrivedFile": "_online",
    "OnlineRater": "_online", "OnlineResult": "_online", "timeliness": "_online", "engine_for": "_select",
    "read_features": "_select", "SparkEngine": "_spark", "spark_session": "_spark",
}


def __getattr__(name: str) -> Any:
    module = _FROM.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FEATURE_DATASETS",
    "ArrivedFile",
    "Engine",
    "FeatureSummary",
    "LocalEngine",
    "OnlineRater",
    "OnlineResult",
    "Progress",
    "RateSummary",
    "SparkEngine",
    "engine_for",
    "period_features",
    "read_features",
    "spark_session",
    "timeliness",
]
