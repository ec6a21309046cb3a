"""fraud: see README.md in this folder."""

from typing import TYPE_CHECKING, Any

from fairtel.fraud._cases import (
    CASE_ID_PURPOSE,
    RULE_DETECTORS,
    SUSPENDABLE,
    VICTIM_LINES,
    CallbackNotice,
    CaseFiles,
    CaseQueue,
    CaseStatus,
    Decision,
    Detector,
    FraudCase,
    InvalidTransitionError,
    MergeReport,
    Reason,
    Suspension,
    case_id,
    decision_id,
    notice_id,
    suspension_of,
)
from fairtel.fraud._detectors import (
    Detection,
    IrsfThresholds,
    ScamThresholds,
    SimboxThresholds,
    Thresholds,
    WangiriThresholds,
    detect,
    detect_irsf,
    detect_scam,
    detect_simbox,
    detect_wangiri,
)
from fairtel.fraud._features import (
    USAGE_COLUMNS,
    CrossFeatures,
    FeatureConfig,
    FraudFeatures,
    compute_features,
    cross_features,
    device_pairs,
    device_sims,
    holding_starts,
    premium_calls,
)
from fairtel.fraud._reading import coarse_reason, pseudonymised_evidence

if TYPE_CHECKING:
    from fairtel.fraud._model import FRAUD_PHRASES, train_fraud_model
    from fairtel.fraud._score import LineScore, feature_table, label_from_cases, score_lines

__all__ = [
    "CASE_ID_PURPOSE",
    "FRAUD_PHRASES",
    "RULE_DETECTORS",
    "SUSPENDABLE",
    "USAGE_COLUMNS",
    "VICTIM_LINES",
    "CallbackNotice",
    "CaseFiles",
    "CaseQueue",
    "CaseStatus",
    "CrossFeatures",
    "Decision",
    "Detection",
    "Detector",
    "FeatureConfig",
    "FraudCase",
    "FraudFeatures",
    "InvalidTransitionError",
    "IrsfThresholds",
    "LineScore",
    "MergeReport",
    "Reason",
    "ScamThresholds",
    "SimboxThresholds",
    "Suspension",
    "Thresholds",
    "WangiriThresholds",
    "case_id",
    "coarse_reason",
    "compute_features",
    "cross_features",
    "decision_id",
    "detect",
    "detect_irsf",
    "detect_scam",
    "detect_simbox",
    "detect_wangiri",
    "device_pairs",
    "device_sims",
    "feature_table",
    "holding_starts",
    "label_from_cases",
    "notice_id",
    "premium_calls",
    "pseudonymised_evidence",
    "score_lines",
    "suspension_of",
    "train_fraud_model",
]

_LAZY = {"FRAUD_PHRASES": "_model", "train_fraud_model": "_model", "LineScore": "_score", "feature_table": "_score",
         "label_from_cases": "_score", "score_lines": "_score"}


def __getattr__(name: str) -> Any:
    # The supervised model pulls in scikit-learn and LightGBM: loaded on first use, so that the detectors
    # (and every command of the CLI) start fast.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"fairtel.fraud.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
