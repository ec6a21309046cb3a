"""Cross-validation scores the same event class in every fold, even when the label values do not say which
class is the event and the two classes are nearly as large."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from fairtel.core.errors import InvalidInputError
from fairtel.learn import TrainOptions, cross_validate, infer_spec

SMALL = TrainOptions(folds=3, learning_rate=0.1, max_rounds=60, early_stopping=20, search=False, bag=1,
                     blend_linear=False)


def _balanced(n_a: int = 50, n_b: int = 51, seed: int = 3) -> pl.DataFrame:
    """Labels "A"/"B" (neither a known event word): "A" is the rarer class, so it is the event on the whole table."""
    rng = np.random.default_rng(seed)
    labels = ["A"] * n_a + ["B"] * n_b
    signal = [rng.normal(1.0 if v == "A" else 0.0, 1.0) for v in labels]
    return pl.DataFrame({
        "user": [f"u{i:04d}" for i in range(len(labels))],
        "signal": [f"{s:.4f}" for s in signal],
        "noise": [f"{rng.normal():.4f}" for _ in labels],
        "outcome": labels,
    })


def test_every_cv_fold_scores_the_class_chosen_on_the_whole_table() -> None:
    frame = _balanced()
    assert infer_spec(frame, label="outcome", id_column="user").positive == "A"
    # 5 stratified folds of 50 "A" and 51 "B": each test fold holds 10 "A"; one training fold holds 40 of each,
    # where the rarer-class rule alone would have picked "B" and that fold would have measured the other class.
    res = cross_validate(frame, label="outcome", id_column="user", folds=5, repeats=1, seed=0, options=SMALL)
    assert [r.positives for r in res.runs] == [10] * 5


def test_a_positive_class_not_in_the_labels_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="positive class"):
        infer_spec(_balanced(), label="outcome", id_column="user", positive="fraud")
    spec = infer_spec(_balanced(), label="outcome", id_column="user", positive="b")
    assert (spec.positive, spec.negative) == ("B", "A")
