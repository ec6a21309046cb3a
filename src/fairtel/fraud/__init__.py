"""fraud: see README.md in this folder."""

from typing import TYPE_CHECKING, Any

from fairtel.fraud._cases import (
    SUSPENDABLE,
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
from fairtel.fraud._features import USAGE_COLUMNS, FeatureConfig, FraudFeatures, compute_features

if TYPE_CHECKING:
    from fairtel.fraud._model import FRAUD_PHRASES, train_fraud_model

__all__ = [
    "FRAUD_PHRASES",
    "SUSPENDABLE",
    "USAGE_COLUMNS",
    "CallbackNotice",
    "CaseFiles",
    "CaseQueue",
    "CaseStatus",
    "Decision",
    "Detection",
    "Detector",
    "FeatureConfig",
    "FraudCase",
    "FraudFeatures",
    "InvalidTransitionError",
    "IrsfThresholds",
    "MergeReport",
    "Reason",
    "ScamThresholds",
    "SimboxThresholds",
    "Suspension",
    "Thresholds",
    "WangiriThresholds",
    "case_id",
    "compute_features",
    "detect",
    "detect_irsf",
    "detect_scam",
    "detect_simbox",
    "detect_wangiri",
    "train_fraud_model",
]


def __getattr__(name: str) -> Any:
    # The supervised model pulls in scikit-learn and LightGBM: loaded on first use, so that the detectors
    # (and every command of the CLI) start fast.
    if name in ("FRAUD_PHRASES", "train_fraud_model"):
        from fairtel.fraud import _model

        return getattr(_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
