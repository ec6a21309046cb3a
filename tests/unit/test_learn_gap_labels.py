"""A saved model reads the labels of another file by the classes it recorded: trained on yes/no it evaluates a
1/0 or true/false export (and the reverse); only a label that is neither class nor a word for one is refused,
naming its line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fairtel.core.errors import InvalidInputError
from fairtel.learn import TabularModel, TrainOptions, infer_spec, load_model, train_model

FAST = TrainOptions(folds=3, learning_rate=0.1, max_rounds=200, early_stopping=20, bag=1, search=False)


def customers(n: int = 300, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    monthly = rng.uniform(20, 120, n)
    churn = rng.random(n) < 1 / (1 + np.exp(-(0.5 - 0.06 * tenure + 0.02 * monthly)))
    return pl.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "tenure": [str(t) for t in tenure],
        "monthly": [f"{m:.2f}" for m in monthly],
        "Churn": ["Yes" if c else "No" for c in churn],
    })


def relabel(frame: pl.DataFrame, positive: str, negative: str) -> pl.DataFrame:
    return frame.with_columns(pl.when(pl.col("Churn") == "Yes").then(pl.lit(positive)).otherwise(pl.lit(negative))
                              .alias("Churn"))


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return customers()


@pytest.fixture(scope="module")
def model(frame: pl.DataFrame) -> TabularModel:
    return train_model(frame, label="Churn", id_column="customer_id", options=FAST)


def test_a_yes_no_model_evaluates_a_one_zero_file_as_its_own(model: TabularModel, frame: pl.DataFrame,
                                                             tmp_path: Path) -> None:
    assert (model.spec.positive, model.spec.negative) == ("Yes", "No")
    own = model.evaluate(frame)
    for positive, negative in [("1", "0"), ("1.0", "0.0"), ("true", "false"), ("churn", "stayed")]:
        other = model.evaluate(relabel(frame, positive, negative))
        assert other.to_dict() == own.to_dict(), (positive, negative)
    reloaded = load_model(model.save(tmp_path / "m"))
    assert reloaded.evaluate(relabel(frame, "1", "0")).to_dict() == own.to_dict()


def test_a_one_zero_model_evaluates_a_yes_no_file(frame: pl.DataFrame) -> None:
    binary = relabel(frame, "1", "0")
    m = train_model(binary, label="Churn", id_column="customer_id", options=FAST)
    assert (m.spec.positive, m.spec.negative) == ("1", "0")
    assert m.evaluate(frame).to_dict() == m.evaluate(binary).to_dict()


def test_labels_that_map_to_no_class_are_refused_by_line(model: TabularModel, frame: pl.DataFrame) -> None:
    odd = relabel(frame, "1", "0").with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("2")).otherwise(pl.col("Churn")).alias("Churn"))
    with pytest.raises(InvalidInputError) as err:
        model.evaluate(odd)
    problems = err.value.problems
    assert len(problems) == 1 and problems[0].line == 6 and problems[0].field == "Churn"
    assert "'2'" in problems[0].message and "'Yes'" in problems[0].message


def test_classes_without_words_match_exactly_and_a_contrary_model_is_not_flipped() -> None:
    n = 60
    base = pl.DataFrame({"x": [str(i % 7) for i in range(n)], "y": [str(i % 5) for i in range(n)]})
    letters = infer_spec(base.with_columns(pl.Series("label", ["A" if i % 3 else "B" for i in range(n)])), label="label")
    assert letters.positive == "B"  # the rarer class: no word says which is the event
    with pytest.raises(InvalidInputError):
        letters.labels(pl.DataFrame({"label": ["1", "0"]}))
    # a table whose event class was chosen as "0" is read exactly: "yes" is not taken for it
    zero = infer_spec(base.with_columns(pl.Series("label", ["0" if i % 3 else "1" for i in range(n)])), label="label",
                      positive="0")
    assert list(zero.labels(pl.DataFrame({"label": ["0", "1"]}))) == [1, 0]
    with pytest.raises(InvalidInputError):
        zero.labels(pl.DataFrame({"label": ["yes"]}))


def test_a_label_column_mixing_1_and_1_0_has_two_classes() -> None:
    """A label exported partly as integers and partly as decimals (1 and 1.0, 0 and 0.00) is two classes, not four."""
    import polars as pl

    from fairtel.learn._prepare import infer_spec

    frame = pl.DataFrame({"id": [str(i) for i in range(8)], "x": [0.1, 0.4, 0.2, 0.9, 0.8, 0.3, 0.7, 0.5],
                          "label": ["1", "1.0", "0", "0.00", "0", "0", "1", "0.0"]})
    spec = infer_spec(frame, label="label", id_column="id")
    assert {spec.positive, spec.negative} <= {"1", "1.0", "0", "0.00", "0.0"}
    assert spec.positive.startswith("1") and spec.negative.startswith("0")
