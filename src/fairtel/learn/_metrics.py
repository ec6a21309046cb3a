"""Metrics of a binary scorer, and the threshold that maximises F1."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score


@dataclass(frozen=True, slots=True)
class Metrics:
    roc_auc: float
    pr_auc: float
    f1: float
    precision: float
    recall: float
    threshold: float
    top_decile_lift: float
    n: int
    positives: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def best_f1_threshold(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64]) -> float:
    """The score cut that maximises F1 (flag when score >= cut), midway between neighbouring distinct scores."""
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    k = np.arange(1, len(ys) + 1)
    last = np.r_[ps[1:] != ps[:-1], True]  # evaluate only after the last of a run of tied scores
    pos = max(int(ys.sum()), 1)
    f1 = np.where(last, 2 * tp / (k + pos), -1.0)
    i = int(np.argmax(f1))
    if i + 1 < len(ps):
        return float((ps[i] + ps[i + 1]) / 2)
    return float(ps[i])


def top_decile_lift(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64]) -> float:
    """Positive rate among the 10% highest scores divided by the overall positive rate."""
    n = len(y)
    base = float(np.mean(y)) if n else 0.0
    if n == 0 or base == 0.0:
        return float("nan")
    k = max(1, math.ceil(n / 10))
    top = np.argsort(-p, kind="mergesort")[:k]
    return float(np.mean(y[top]) / base)


def binary_metrics(y: npt.NDArray[np.int64], p: npt.NDArray[np.float64], threshold: float) -> Metrics:
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    flagged = p >= threshold
    tp = int(np.sum(flagged & (y == 1)))
    fp = int(np.sum(flagged & (y == 0)))
    fn = int(np.sum(~flagged & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    both = 0 < int(y.sum()) < len(y)
    return Metrics(
        roc_auc=float(roc_auc_score(y, p)) if both else float("nan"),
        pr_auc=float(average_precision_score(y, p)) if both else float("nan"),
        f1=f1,
        precision=precision,
        recall=recall,
        threshold=float(threshold),
        top_decile_lift=top_decile_lift(y, p),
        n=len(y),
        positives=int(y.sum()),
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """Mean and sample standard deviation of one metric over repeated folds."""

    mean: float
    sd: float

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.sd:.4f}"


def summarise(runs: Sequence[Metrics]) -> dict[str, Summary]:
    out: dict[str, Summary] = {}
    for name in ("roc_auc", "pr_auc", "f1", "precision", "recall", "threshold", "top_decile_lift"):
        xs = np.array([getattr(m, name) for m in runs], dtype=np.float64)
        out[name] = Summary(float(np.nanmean(xs)), float(np.nanstd(xs, ddof=1)) if len(xs) > 1 else 0.0)
    return out
