"""Probability calibration fitted on out-of-fold scores, stored as plain numbers (no pickle)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


class CalibrationKind(StrEnum):
    PLATT = "platt"
    ISOTONIC = "isotonic"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Calibration:
    """Maps a raw log-odds score to a probability.

    Platt (a logistic curve of the score) keeps the ranking, hence ROC-AUC, intact; isotonic is more flexible
    but turns close scores into ties. Both are fitted on out-of-fold scores, never on scores of rows the model
    was trained on, which would be over-confident.
    """

    kind: CalibrationKind
    a: float = 1.0
    b: float = 0.0
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()

    def __call__(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raw = np.asarray(raw, dtype=np.float64)
        if self.kind is CalibrationKind.ISOTONIC:
            return np.asarray(np.interp(raw, np.array(self.xs), np.array(self.ys)), dtype=np.float64)
        z = self.a * raw + self.b if self.kind is CalibrationKind.PLATT else raw
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "a": self.a, "b": self.b, "xs": list(self.xs), "ys": list(self.ys)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        return cls(CalibrationKind(d["kind"]), float(d["a"]), float(d["b"]), tuple(d["xs"]), tuple(d["ys"]))


def fit_calibration(raw: npt.NDArray[np.float64], y: npt.NDArray[np.int64], kind: CalibrationKind) -> Calibration:
    if kind is CalibrationKind.NONE:
        return Calibration(kind)
    if kind is CalibrationKind.ISOTONIC:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        return Calibration(kind, xs=tuple(map(float, iso.X_thresholds_)), ys=tuple(map(float, iso.y_thresholds_)))
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
    return Calibration(kind, a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
