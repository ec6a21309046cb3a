"""Repeated stratified cross-validation of the whole training procedure (preparation included)."""

from __future__ import annotations

import warnings as py_warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.model_selection import StratifiedKFold

from fairtel.learn._metrics import Metrics, Summary, summarise
from fairtel.learn._model import MIN_CLASS_ROWS, Progress, TrainOptions, _labelled, train_model
from fairtel.learn._prepare import infer_spec


@dataclass(frozen=True, slots=True)
class CvResult:
    folds: int
    repeats: int
    runs: tuple[Metrics, ...]
    warnings: tuple[str, ...] = field(default=())  # why the figures may be no measure (too few rows of a class)

    @property
    def summary(self) -> dict[str, Summary]:
        return summarise(self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "repeats": self.repeats,
            "n": sum(r.n for r in self.runs) // max(self.repeats, 1),
            **{k: {"mean": v.mean, "sd": v.sd} for k, v in self.summary.items()},
            "warnings": list(self.warnings),
            "runs": [r.to_dict() for r in self.runs],
        }


def cross_validate(
    frame: pl.DataFrame,
    *,
    label: str,
    id_column: str | None = None,
    exclude: Iterable[str] = (),
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    options: TrainOptions | None = None,
    source: str = "table",
    progress: Progress | None = None,
) -> CvResult:
    """Each test fold is scored by a model trained, calibrated and thresholded on the other folds only."""
    excluded = list(exclude)
    spec = infer_spec(frame, label=label, id_column=id_column, exclude=excluded, source=source)
    frame = _labelled(frame, spec.label, source)
    y = spec.labels(frame, source=source)
    n_pos = int(y.sum())
    rare, n_rare = (spec.positive, n_pos) if n_pos <= len(y) - n_pos else (spec.negative, len(y) - n_pos)
    notes: list[str] = []
    if n_rare < folds:
        notes.append(f"only {n_rare} rows of class {rare!r} in {spec.label!r} for {folds} folds: some test folds have "
                     f"none, and their metrics are undefined")
    if n_rare < MIN_CLASS_ROWS:
        notes.append(f"the metrics rest on {n_rare} rows of class {rare!r} in {spec.label!r}: too few to measure "
                     f"quality; at least {MIN_CLASS_ROWS} rows of each class are needed")
    runs: list[Metrics] = []
    for r in range(repeats):
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + 1000 * r)
        with py_warnings.catch_warnings():  # said above, in words of the table
            py_warnings.simplefilter("ignore", UserWarning)
            splits = list(splitter.split(np.zeros(len(y)), y))
        for tr, te in splits:
            model = train_model(
                frame[tr.tolist()], label=spec.label, id_column=spec.id_column, exclude=excluded,
                options=options, source=source, positive=spec.positive,
            )
            runs.append(model.evaluate(frame[te.tolist()], source=source))
            if progress:
                progress.step("cross-validation folds", total=folds * repeats)
    return CvResult(folds, repeats, tuple(runs), tuple(notes))
