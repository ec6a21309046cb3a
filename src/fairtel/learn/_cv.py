"""Repeated stratified cross-validation of the whole training procedure (preparation included)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.model_selection import StratifiedKFold

from fairtel.learn._metrics import Metrics, Summary, summarise
from fairtel.learn._model import Progress, TrainOptions, _labelled, train_model
from fairtel.learn._prepare import infer_spec


@dataclass(frozen=True, slots=True)
class CvResult:
    folds: int
    repeats: int
    runs: tuple[Metrics, ...]

    @property
    def summary(self) -> dict[str, Summary]:
        return summarise(self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "repeats": self.repeats,
            "n": sum(r.n for r in self.runs) // max(self.repeats, 1),
            **{k: {"mean": v.mean, "sd": v.sd} for k, v in self.summary.items()},
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
    frame = _labelled(frame, spec.label)
    y = spec.labels(frame, source=source)
    runs: list[Metrics] = []
    for r in range(repeats):
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + 1000 * r)
        for tr, te in splitter.split(np.zeros(len(y)), y):
            model = train_model(
                frame[tr.tolist()], label=spec.label, id_column=spec.id_column, exclude=excluded,
                options=options, source=source, positive=spec.positive,
            )
            runs.append(model.evaluate(frame[te.tolist()], source=source))
            if progress:
                progress.step("cross-validation folds", total=folds * repeats)
    return CvResult(folds, repeats, tuple(runs))
