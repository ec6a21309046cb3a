"""Inner folds that keep a unit's rows together: the churn warning stacks several cuts of the same subscribers, and
a subscriber on both sides of an inner fold leaks into the early stopping, calibration and out-of-fold threshold."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

import fairtel.learn._model as model_module
from fairtel.core.errors import InvalidInputError
from fairtel.insight import _churn_warning
from fairtel.learn import TrainOptions, train_model

FAST = TrainOptions(folds=4, max_rounds=30, early_stopping=5, search=False, bag=1)


def stacked(subscribers: int = 120, cuts: int = 3, seed: int = 0) -> pl.DataFrame:
    """``cuts`` rows a subscriber (near-identical features, the same label), as the churn warning trains on."""
    rng = np.random.default_rng(seed)
    level = rng.normal(size=subscribers)
    churned = (level + rng.normal(scale=0.8, size=subscribers) > 1.0).astype(int)
    rows = [(f"86138{i:08d}", c, float(level[i] + rng.normal(scale=0.05)), float(rng.normal()), int(churned[i]))
            for c in range(cuts) for i in range(subscribers)]
    return pl.DataFrame(rows, schema=["msisdn", "cut", "f1", "f2", "churned"], orient="row").with_row_index("row_id")


def folds_seen(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[Any, Any]]]:
    seen: list[list[tuple[Any, Any]]] = []
    inner = model_module._inner_folds

    def spy(x: Any, y: Any, cat: Any, opts: Any, splits: list[tuple[Any, Any]], *args: Any, **kw: Any) -> Any:
        seen.append(splits)
        return inner(x, y, cat, opts, splits, *args, **kw)

    monkeypatch.setattr(model_module, "_inner_folds", spy)
    return seen


def crossing(frame: pl.DataFrame, splits: list[tuple[Any, Any]]) -> set[str]:
    ids = np.asarray(frame["msisdn"].to_list())
    both: set[str] = set()
    for tr, va in splits:
        both |= set(ids[tr]) & set(ids[va])
    return both


def test_grouped_folds_keep_each_subscriber_on_one_side(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = stacked()
    seen = folds_seen(monkeypatch)
    model = train_model(frame, label="churned", id_column="row_id", exclude=("msisdn", "cut"), options=FAST,
                        groups="msisdn")
    (splits,) = seen
    assert len(splits) == 4
    assert crossing(frame, splits) == set()
    assert sorted(np.concatenate([va for _, va in splits]).tolist()) == list(range(frame.height))  # every row once
    assert model.meta["fold_groups"] == {"column": "msisdn", "groups": 120}
    assert "msisdn" not in model.spec.names


def test_without_groups_rows_are_split_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = stacked()
    seen = folds_seen(monkeypatch)
    model = train_model(frame, label="churned", id_column="row_id", exclude=("msisdn", "cut"), options=FAST)
    (splits,) = seen
    assert crossing(frame, splits)  # the leak the groups prevent: rows of one subscriber on both sides
    assert "fold_groups" not in model.meta


def test_churn_warning_trains_with_subscriber_folds(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = stacked(seed=3)
    seen = folds_seen(monkeypatch)
    model = _churn_warning._train(frame, FAST, None, "training folds")
    (splits,) = seen
    assert crossing(frame, splits) == set()
    assert model.meta["fold_groups"]["column"] == "msisdn"


def test_folds_are_cut_down_to_the_subscribers_of_the_rare_class() -> None:
    frame = stacked(subscribers=60, cuts=3, seed=1)
    # three subscribers churned, each on three rows: nine positive rows but only three groups of them
    keep = frame["msisdn"].unique().sort().to_list()[:3]
    frame = frame.with_columns(pl.col("msisdn").is_in(keep).cast(pl.Int64).alias("churned"))
    model = train_model(frame, label="churned", id_column="row_id", exclude=("msisdn", "cut"), options=FAST,
                        groups="msisdn")
    assert any("3 folds instead of 4" in w for w in model.meta["warnings"])
    one = frame.with_columns(pl.col("msisdn").is_in(keep[:1]).cast(pl.Int64).alias("churned"))
    with pytest.raises(InvalidInputError, match="1 values of 'msisdn' with a positive row"):
        train_model(one, label="churned", id_column="row_id", exclude=("msisdn", "cut"), options=FAST, groups="msisdn")


def test_groups_of_one_row_split_as_the_rows_do(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = stacked(cuts=1, seed=2)  # a single cut: every subscriber on one row
    seen = folds_seen(monkeypatch)
    train_model(frame, label="churned", id_column="row_id", exclude=("msisdn", "cut"), options=FAST, groups="msisdn")
    train_model(frame, label="churned", id_column="row_id", exclude=("msisdn", "cut"), options=FAST)
    grouped, rows = seen
    assert [va.tolist() for _, va in grouped] == [va.tolist() for _, va in rows]
