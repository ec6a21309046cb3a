"""insight: churn early warning with reasons, best-plan advice, and the churn model on any labelled table.

Owns: churn features and labels from the operator's own data (``activity``, ``churn_features``,
``churn_labels``), the time-based early warning and its retention list (``churn_early_warning``), best-plan
advice priced by the rating engine (``advise``, ``notice_text``), the Megaline importer and catalog, and the
churn phrasebook for any labelled customer table (``train_churn_model``). Does not own the model tools
(learn/), rating (rating/) or where frames come from (cli/, store/). docs/insight.md describes the rules.
"""

from fairtel.insight._advice import (
    ADVICE_COLUMNS,
    COST_COLUMNS,
    AdviceResult,
    advise,
    best_plans,
    last_periods,
    notice_text,
    price_months,
    split_by_period,
)
from fairtel.insight._churn_model import CHURN_PHRASES, train_churn_model
from fairtel.insight._churn_warning import (
    CHURN_WARNING_PHRASES,
    ChurnData,
    ChurnWarning,
    ChurnWarningError,
    Cuts,
    churn_early_warning,
    plan_cuts,
    retention_csv,
    score_frame,
)
from fairtel.insight._features import Activity, ChurnWindow, activity, churn_features, churn_labels, eligible
from fairtel.insight._megaline import (
    MEGALINE_TIMEZONE,
    MegalineData,
    load_megaline_catalog,
    megaline_catalog_path,
    read_megaline,
)
from fairtel.insight._sources import read_operator_dir

__all__ = [
    "ADVICE_COLUMNS",
    "CHURN_PHRASES",
    "CHURN_WARNING_PHRASES",
    "COST_COLUMNS",
    "MEGALINE_TIMEZONE",
    "Activity",
    "AdviceResult",
    "ChurnData",
    "ChurnWarning",
    "ChurnWarningError",
    "ChurnWindow",
    "Cuts",
    "MegalineData",
    "activity",
    "advise",
    "best_plans",
    "churn_early_warning",
    "churn_features",
    "churn_labels",
    "eligible",
    "last_periods",
    "load_megaline_catalog",
    "megaline_catalog_path",
    "notice_text",
    "plan_cuts",
    "price_months",
    "read_megaline",
    "read_operator_dir",
    "retention_csv",
    "score_frame",
    "split_by_period",
    "train_churn_model",
]
