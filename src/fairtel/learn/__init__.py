"""Shared tabular-model tools: preparation of any labelled table, LightGBM training, calibration, evaluation, reasons.

Owns: typing the columns of a CSV (numbers, categories, blanks, labels, id-like columns), the calibrated
LightGBM (+ linear) scorer with its F1 threshold, metrics, repeated cross-validation, reasons in zh/en
words, recognising its training rows in an evaluation table, and the model's on-disk format. Does not own:
what the features of fraud or churn mean (fraud/, insight/ bring their phrasebooks and feature builders) or
where tables come from.
"""

from fairtel.learn._calibration import Calibration, CalibrationKind
from fairtel.learn._cv import CvResult, cross_validate
from fairtel.learn._metrics import Metrics, Summary, best_f1_threshold, binary_metrics, summarise, top_decile_lift
from fairtel.learn._model import (
    MIN_CLASS_ROWS,
    OVERLAP_LIMIT,
    ModelError,
    Progress,
    Scored,
    TabularModel,
    TrainingOverlap,
    TrainingRows,
    TrainOptions,
    load_model,
    train_model,
)
from fairtel.learn._prepare import (
    Column,
    ColumnKind,
    TableSpec,
    frame_hash,
    infer_spec,
    read_table,
    resolve_column,
    rows_digest,
)
from fairtel.learn._reasons import Direction, Phrase, Phrasebook, Reason, phrase_key

__all__ = [
    "MIN_CLASS_ROWS",
    "OVERLAP_LIMIT",
    "Calibration",
    "CalibrationKind",
    "Column",
    "ColumnKind",
    "CvResult",
    "Direction",
    "Metrics",
    "ModelError",
    "Phrase",
    "Phrasebook",
    "Progress",
    "Reason",
    "Scored",
    "Summary",
    "TableSpec",
    "TabularModel",
    "TrainOptions",
    "TrainingOverlap",
    "TrainingRows",
    "best_f1_threshold",
    "binary_metrics",
    "cross_validate",
    "frame_hash",
    "infer_spec",
    "load_model",
    "phrase_key",
    "read_table",
    "resolve_column",
    "rows_digest",
    "summarise",
    "top_decile_lift",
    "train_model",
]
