"""engines: where the kernels run. See README.md in this folder.

Owns running the rating and fraud-feature kernels over a period of the lake, on this machine (``LocalEngine``)
or on Spark (``SparkEngine``, needs the ``spark`` extra; pyspark is imported only when a session starts),
behind one interface (``Engine``). Does not own any pricing or feature logic (rating/, fraud/), nor the
database (store/): the caller hands in the catalog, the subscribers and the consent gate.
"""

from fairtel.engines._base import FEATURE_DATASETS, Engine, FeatureSummary, Progress, RateSummary
from fairtel.engines._local import LocalEngine, period_features
from fairtel.engines._online import ArrivedFile, OnlineRater, OnlineResult, timeliness
from fairtel.engines._select import engine_for, read_features
from fairtel.engines._spark import SparkEngine, spark_session

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
